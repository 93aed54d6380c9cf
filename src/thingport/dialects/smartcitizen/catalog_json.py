"""Sensors, measurements and kits as SmartCitizen writes them (smartcitizen-api `_sensor`,
`_measurement` views; kits as the API served them before they were folded into `hardware`).

Sensor tags are always `[]`: Thingport has no sensor tags (they are an admin curiosity of the
live service that nothing reads).
"""

from __future__ import annotations

from typing import Any

from thingport.core.catalog.schemas import KitOut, MeasurementOut, SensorOut
from thingport.dialects.smartcitizen.render import iso


def measurement_json(measurement: MeasurementOut, *, with_times: bool = True) -> dict[str, Any]:
    """`with_times=False` is the short form embedded in a sensor."""
    body: dict[str, Any] = {
        "id": measurement.id,
        "uuid": measurement.uuid,
        "name": measurement.name,
        "description": measurement.description,
        "definition": measurement.definition,
    }
    if with_times:
        body["created_at"] = iso(measurement.created_at)
        body["updated_at"] = iso(measurement.updated_at)
    return body


def sensor_json(sensor: SensorOut) -> dict[str, Any]:
    return {
        "id": sensor.id,
        "uuid": sensor.uuid,
        "parent_id": sensor.parent_id,
        "name": sensor.name,
        "description": sensor.description,
        "unit": sensor.unit,
        "tags": [],
        "datasheet": sensor.datasheet,
        "unit_definition": sensor.unit_definition,
        "created_at": iso(sensor.created_at),
        "updated_at": iso(sensor.updated_at),
        "measurement": measurement_json(sensor.measurement, with_times=False)
        if sensor.measurement is not None
        else None,
    }


def kit_json(kit: KitOut) -> dict[str, Any]:
    return {
        "id": kit.id,
        "uuid": kit.uuid,
        "slug": kit.slug,
        "name": kit.name,
        "description": kit.description,
        "created_at": iso(kit.created_at),
        "updated_at": iso(kit.updated_at),
        "sensors": [sensor_json(s) for s in kit.sensors],
    }
