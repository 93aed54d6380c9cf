"""Readings named by sensor, turned into readings of a device's series.

Some devices name what they measure by sensor: a catalogue id (`55`, `"55"`) or the short key a
sensor of their kit goes by (`"temp"`). Every way in that carries such readings (SmartCitizen's
HTTP POST and legacy `/add`, an MQTT codec whose readings are keyed by sensor) resolves them
here, so all of them accept and refuse the same references for the same reasons. Parsing the
wire format is the caller's; this needs the catalogue and the device's series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from thingport.core.catalog.schemas import SensorOut
from thingport.core.catalog.service import CatalogService, SensorRef, numeric_ref
from thingport.core.telemetry.schemas import Reading
from thingport.core.telemetry.service import TelemetryService


class SensorValue(NamedTuple):
    """One value for the sensor `ref`. `where` is the caller's label for it (a place in a body),
    handed back with a refusal so that the caller can say which entry it was."""

    where: str
    ref: SensorRef
    value: float
    ts_ms: int


# unknown_sensor: no sensor has that id, nor the device's sensors that key. grouping_sensor:
# the sensor groups others (a DHT22 over its temperature and humidity) and records nothing.
RefusalReason = Literal["unknown_sensor", "grouping_sensor"]


def _short(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 80 else text[:80] + "..."


@dataclass(frozen=True, slots=True)
class SensorRefusal:
    """A value that was not turned into a reading, and why."""

    entry: SensorValue
    reason: RefusalReason
    sensor: SensorOut | None = None  # the grouping sensor

    @property
    def message(self) -> str:
        if self.sensor is not None:
            return (
                f"sensor {self.sensor.id} ({self.sensor.name}) groups other sensors and records "
                "nothing; send its readings to its child sensors"
            )
        return (
            f"unknown sensor {_short(self.entry.ref)}: neither a sensor id nor the key of a "
            "sensor of this device"
        )


async def find_device_sensors(
    catalog: CatalogService,
    telemetry: TelemetryService,
    device_id: int,
    type_id: int | None,
    refs: Iterable[SensorRef],
) -> dict[SensorRef, SensorOut]:
    """The sensors the references name on this device: ids anywhere in the catalogue, keys
    among the device's kit (`type_id`) and the sensors it already has readings of."""
    wanted = set(refs)
    also: list[int] = []
    if any(numeric_ref(r) is None for r in wanted):  # only keys need the device's series
        series = (await telemetry.series_of_devices([device_id]))[device_id]
        also = [n for s in series if (n := numeric_ref(s.key)) is not None]
    return await catalog.find_sensors(wanted, type_id=type_id, also_ids=also)


async def sensor_readings(
    catalog: CatalogService,
    telemetry: TelemetryService,
    device_id: int,
    type_id: int | None,
    entries: Sequence[SensorValue],
) -> tuple[list[Reading], list[SensorRefusal]]:
    """Readings under each sensor's series key (`str(sensor.id)`, with its name and unit), and
    a refusal for each entry whose sensor is unknown or records nothing."""
    found = await find_device_sensors(
        catalog, telemetry, device_id, type_id, (e.ref for e in entries)
    )
    parents = await catalog.parent_ids_among([s.id for s in found.values()])
    readings: list[Reading] = []
    refused: list[SensorRefusal] = []
    for entry in entries:
        sensor = found.get(entry.ref)
        if sensor is None:
            refused.append(SensorRefusal(entry, "unknown_sensor"))
        elif sensor.id in parents:
            refused.append(SensorRefusal(entry, "grouping_sensor", sensor))
        else:
            readings.append(
                Reading(sensor.series_key, entry.value, entry.ts_ms, sensor.name, sensor.unit)
            )
    return readings, refused
