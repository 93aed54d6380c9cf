"""Readings named by sensor: the SmartCitizen body `{"data": [{"recorded_at", "sensors": [{"id",
"value"}]}]}` and turning its sensor references into a device's series.

Two ways in carry this body: `POST /v0/devices/:id/readings` and a kit's MQTT publish on
`device/sck/{token}/readings` (and its raw form). Both must accept and refuse the same entries
for the same reasons, so the parsing and the lookup live here, once. Parsing is pure (the MQTT
codec runs it); the lookup needs the catalogue and the device's series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from thingport.core.catalog.schemas import SensorOut
from thingport.core.catalog.service import CatalogService, SensorRef, numeric_ref
from thingport.core.telemetry.schemas import Reading
from thingport.core.telemetry.service import (
    MAX_ABS_VALUE,
    MAX_KEY_LENGTH,
    TelemetryService,
)
from thingport.kit.timeparse import TimeParseError, parse_time

# The live service refuses readings stamped more than a day ahead (a kit whose clock is off
# would otherwise write into the future, where the newest reading hides the real ones).
FUTURE_SLACK_MS = 24 * 3600 * 1000
# Longer texts are no date anyone writes; the cap keeps the date parser away from huge strings.
MAX_TIME_CHARS = 64


class SensorValue(NamedTuple):
    """One parsed entry: where it was in the body (for error messages), which sensor, what."""

    where: str
    ref: SensorRef
    value: float
    ts_ms: int


def reading_value(raw: object) -> float | None:
    """A reading's value: a number or numeric text; None for no value (skipped, not an error).
    Raises ValueError for anything else, including what the store cannot hold."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(raw)
    try:
        value = float(raw)
    except OverflowError:  # an integer beyond a float's range
        raise ValueError(raw) from None
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        raise ValueError(raw)
    return value


def reading_time(raw: object, now_ms: int) -> int:
    """`recorded_at`: epoch seconds or milliseconds (digits, the platform's 10/13-digit rule)
    or a date text; required, 1970 to a day ahead."""
    if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw).strip() == "":
        raise ValueError("is missing or empty")
    text = str(raw).strip()
    if len(text) > MAX_TIME_CHARS:
        raise ValueError(f"is longer than {MAX_TIME_CHARS} characters")
    try:
        ms = parse_time(text)
    except (TimeParseError, ValueError, OverflowError) as error:
        raise ValueError(str(error)) from None
    if ms > now_ms + FUTURE_SLACK_MS:
        raise ValueError("is more than a day in the future")
    if ms < 0:
        raise ValueError("is before 1970")
    return ms


def sensor_ref(raw: object) -> SensorRef | None:
    """A sensor id (number) or sensor key (text) as sent, or None when it is neither."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip() and len(raw) <= MAX_KEY_LENGTH:
        return raw
    return None


def parse_data(data: list[object], now_ms: int) -> tuple[list[SensorValue], dict[str, list[str]]]:
    """The entries of a `data` array, and the errors by location (`data[0].sensors[1].value`).

    Entries whose value is null are skipped, as on the live service. Every bad entry is named,
    so that a client can fix all of them at once; callers store nothing when there are errors.
    """
    errors: dict[str, list[str]] = {}
    entries: list[SensorValue] = []
    for i, item in enumerate(data):
        where = f"data[{i}]"
        if not isinstance(item, dict):
            errors[where] = ["must be an object with recorded_at and sensors"]
            continue
        try:
            ts = reading_time(item.get("recorded_at"), now_ms)
        except ValueError as error:
            errors[f"{where}.recorded_at"] = [str(error)]
            continue
        sensors = item.get("sensors")
        if not isinstance(sensors, list):
            errors[f"{where}.sensors"] = ["must be an array of {id, value}"]
            continue
        for j, entry in enumerate(sensors):
            at = f"{where}.sensors[{j}]"
            ref = sensor_ref(entry.get("id") if isinstance(entry, dict) else None)
            if ref is None:
                errors[f"{at}.id"] = ["must be a sensor id or a sensor key"]
                continue
            raw = entry.get("value") if isinstance(entry, dict) else None
            try:
                value = reading_value(raw)
            except ValueError:
                errors[f"{at}.value"] = [f"{_short(raw)} is not a number"]
                continue
            if value is not None:
                entries.append(SensorValue(at, ref, value, ts))
    return entries, errors


def _short(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 80 else text[:80] + "..."


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
) -> tuple[list[Reading], dict[str, list[str]]]:
    """Readings under each sensor's series key (`str(sensor.id)`, with its name and unit), and
    an error for each entry whose sensor is unknown."""
    found = await find_device_sensors(
        catalog, telemetry, device_id, type_id, (e.ref for e in entries)
    )
    parents = await catalog.parent_ids_among([s.id for s in found.values()])
    readings: list[Reading] = []
    errors: dict[str, list[str]] = {}
    for entry in entries:
        sensor = found.get(entry.ref)
        if sensor is None:
            errors[f"{entry.where}.id"] = [
                f"unknown sensor {_short(entry.ref)}: neither a sensor id nor the key of a "
                "sensor of this device"
            ]
            continue
        if sensor.id in parents:
            errors[f"{entry.where}.id"] = [
                f"sensor {sensor.id} ({sensor.name}) groups other sensors and records nothing; "
                "send its readings to its child sensors"
            ]
            continue
        readings.append(
            Reading(sensor.series_key, entry.value, entry.ts_ms, sensor.name, sensor.unit)
        )
    return readings, errors
