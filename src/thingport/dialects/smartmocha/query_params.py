"""Smart Mocha's query parameters -> the core's typed query values.

`rollup` is OpenTSDB's `<interval>-<aggregator>[-<fill>]` (durations `ms s m h d w n y`),
`start` and `end` are OpenTSDB time texts (kit/timeparse.py): `now`, `1d-ago`, epoch s or ms,
ISO 8601 and the other common forms. The messages are part of the contract (CONTRACT.md).
"""

from __future__ import annotations

from thingport.core.telemetry.query import (
    Aggregator,
    Downsample,
    Fill,
    TimeRange,
    time_text_ms,
)
from thingport.core.telemetry.query import check_interval as check_core_interval
from thingport.kit.errors import InvalidInput
from thingport.kit.timeparse import TimeParseError, parse_duration

_AGGREGATORS = ", ".join(Aggregator)
_FILLS = ", ".join(Fill)


def downsample(text: str | None) -> Downsample:
    """`rollup`, e.g. `1h-avg`, `10m-max-zero`; aggregator and fill ignore case."""
    if text is None or not text.strip():
        raise InvalidInput("rollup is required, e.g. rollup=1h-avg", field="rollup")
    parts = text.strip().split("-")
    if len(parts) not in (2, 3):
        raise InvalidInput(
            f"rollup {text!r} must look like <interval>-<aggregator>[-<fill>], e.g. 1h-avg",
            field="rollup",
        )
    try:
        interval_ms = parse_duration(parts[0])
        # The limit is the core's; the message says which rollup it came from.
        check_core_interval(interval_ms, given=parts[0])
    except TimeParseError as error:
        raise _bad_rollup(text, str(error)) from error
    except InvalidInput as error:
        raise _bad_rollup(text, error.message) from error
    try:
        aggregator = Aggregator(parts[1].lower())
    except ValueError:
        why = f"unknown aggregator {parts[1]!r} (use {_AGGREGATORS})"
        raise _bad_rollup(text, why) from None
    try:
        fill = Fill(parts[2].lower()) if len(parts) == 3 else Fill.NONE
    except ValueError:
        raise _bad_rollup(text, f"unknown fill policy {parts[2]!r} (use {_FILLS})") from None
    return Downsample(interval_ms, aggregator, fill)


def _bad_rollup(text: str, why: str) -> InvalidInput:
    return InvalidInput(f"rollup {text!r}: {why}", field="rollup")


def time_range(start: str | None, end: str | None, *, now_ms: int) -> TimeRange:
    """`start` is required; `end` defaults to now."""
    if start is None or not start.strip():
        raise InvalidInput("start is required", field="start")
    start_ms = time_text_ms(start, "start", now_ms)
    end_ms = now_ms if end is None or not end.strip() else time_text_ms(end, "end", now_ms)
    return TimeRange(start_ms, end_ms)
