"""SmartCitizen's readings on the wire, parsed once for every way they come in.

The body of `POST /v0/devices/:id/readings`, `{"data": [{"recorded_at", "sensors": [{"id",
"value"}]}]}`, is also what a kit publishes on `device/sck/{token}/readings`; its values and
times follow the same rules in the firmware's raw MQTT form and in legacy `/add` headers. So that
all of them accept and refuse the same entries for the same reasons, the parsing lives here,
owned by the vendor's dialect; the MQTT codec imports it. Parsing is pure: turning the sensor
references into series is the core's (`Core.sensor_readings`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from thingport.core.catalog.sensor_readings import SensorRefusal, SensorValue
from thingport.core.catalog.service import SensorRef
from thingport.core.telemetry.service import MAX_ABS_VALUE, MAX_KEY_LENGTH
from thingport.kit.timeparse import TimeParseError, parse_time

# The live service refuses readings stamped more than a day ahead (a kit whose clock is off
# would otherwise write into the future, where the newest reading hides the real ones).
FUTURE_SLACK_MS = 24 * 3600 * 1000
# Longer texts are no date anyone writes; the cap keeps the date parser away from huge strings.
MAX_TIME_CHARS = 64

Errors = dict[str, list[str]]


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


def parse_data(data: list[object], now_ms: int) -> tuple[list[SensorValue], Errors]:
    """The entries of a `data` array, and the errors by location (`data[0].sensors[1].value`).

    Entries whose value is null are skipped, as on the live service. Every bad entry is named,
    so that a client can fix all of them at once; callers store nothing when there are errors.
    """
    errors: Errors = {}
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


def refusal_errors(refused: Sequence[SensorRefusal]) -> Errors:
    """The core's refused entries as errors by location: each names the entry's sensor id."""
    return {f"{r.entry.where}.id": [r.message] for r in refused}


def _short(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 80 else text[:80] + "..."
