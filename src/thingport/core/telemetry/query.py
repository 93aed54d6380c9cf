"""The query planner: downsample specs, time ranges and fill policies, shared by every dialect."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from thingport.kit.errors import InvalidInput
from thingport.kit.timeparse import UNIT_MS, TimeParseError, parse_duration, parse_time
from thingport.storage.timeseries import AGGREGATORS

# OpenTSDB fill policies. JSON has no NaN, so "nan" renders like "null".
FILLS = ("none", "null", "nan", "zero")
MAX_BUCKETS = 100_000
# Query times must lie in years 1 to 9999 (UTC), the span datetime can represent: dialects format
# them as dates, and anything beyond is a mistake (e.g. "99999y-ago") that would otherwise reach
# SQL as an out-of-range int64.
MIN_TIME_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_INTERVAL_MS = 10_000 * UNIT_MS["y"]  # longer than any range, far from int64 limits


@dataclass(frozen=True, slots=True)
class Downsample:
    interval_ms: int
    aggregator: str
    fill: str = "none"

    @property
    def spec(self) -> str:
        return f"{self.interval_ms}ms-{self.aggregator}" + (
            f"-{self.fill}" if self.fill != "none" else ""
        )


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ms: int
    end_ms: int


def parse_downsample(text: str, *, field: str = "rollup", month_unit: str = "n") -> Downsample:
    """`<interval>-<aggregator>[-<fill>]`, e.g. `1h-avg`, `10m-max-zero`."""
    parts = text.strip().split("-")
    if len(parts) not in (2, 3):
        raise InvalidInput(
            f"{field} {text!r} must look like <interval>-<aggregator>[-<fill>], e.g. 1h-avg",
            field=field,
        )
    try:
        interval_ms = parse_duration(parts[0], month_unit=month_unit)
    except TimeParseError as error:
        raise InvalidInput(f"{field} {text!r}: {error}", field=field) from error
    if interval_ms > MAX_INTERVAL_MS:
        raise InvalidInput(
            f"{field} {text!r}: the interval {parts[0]!r} is longer than 10000y", field=field
        )
    aggregator = parts[1].lower()
    if aggregator not in AGGREGATORS:
        raise InvalidInput(
            f"{field} {text!r}: unknown aggregator {parts[1]!r} (use {', '.join(AGGREGATORS)})",
            field=field,
        )
    fill = parts[2].lower() if len(parts) == 3 else "none"
    if fill not in FILLS:
        raise InvalidInput(
            f"{field} {text!r}: unknown fill policy {parts[2]!r} (use {', '.join(FILLS)})",
            field=field,
        )
    return Downsample(interval_ms, aggregator, fill)


def parse_range(
    start: str | int | None,
    end: str | int | None,
    *,
    now_ms: int,
    start_field: str = "start",
    end_field: str = "end",
) -> TimeRange:
    if start is None or (isinstance(start, str) and not start.strip()):
        raise InvalidInput(f"{start_field} is required", field=start_field)
    start_ms = _time(start, start_field, now_ms)
    if end is None or (isinstance(end, str) and not end.strip()):
        end_ms = now_ms
    else:
        end_ms = _time(end, end_field, now_ms)
    if end_ms < start_ms:
        raise InvalidInput(f"{end_field} is before {start_field}", field=end_field)
    return TimeRange(start_ms, end_ms)


def _time(text: str | int, field: str, now_ms: int) -> int:
    """Epoch milliseconds from a time text, or an int that already is epoch milliseconds (a
    dialect that parsed its own time parameters)."""
    if isinstance(text, int):
        ms = text
    else:
        try:
            ms = parse_time(text, now_ms=now_ms)
        except TimeParseError as error:
            raise InvalidInput(f"{field}: {error}", field=field) from error
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise InvalidInput(f"{field}: {text!r} is outside the years 1 to 9999", field=field)
    return ms


def check_bucket_count(time_range: TimeRange, downsample: Downsample) -> None:
    # Count the buckets apply_fill produces: from the bucket of start to the bucket of end. A
    # range that starts late in one bucket and ends early in another touches one bucket more
    # than its length divided by the interval suggests.
    interval = downsample.interval_ms
    first = time_range.start_ms - time_range.start_ms % interval
    last = time_range.end_ms - time_range.end_ms % interval
    buckets = (last - first) // interval + 1
    if downsample.fill != "none" and buckets > MAX_BUCKETS:
        raise InvalidInput(
            f"{buckets} buckets requested with a fill policy; at most {MAX_BUCKETS} "
            "(use a longer interval or a shorter range)",
            field="rollup",
        )


def apply_fill(
    buckets: Sequence[tuple[int, float]], time_range: TimeRange, downsample: Downsample
) -> list[tuple[int, float | None]]:
    """Add the empty buckets between start and end, valued by the fill policy."""
    if downsample.fill == "none":
        return list(buckets)
    filler: float | None = 0.0 if downsample.fill == "zero" else None
    if downsample.fill == "nan":
        filler = math.nan
    interval = downsample.interval_ms
    present = dict(buckets)
    first = time_range.start_ms - time_range.start_ms % interval
    last = time_range.end_ms - time_range.end_ms % interval
    return [(b, present.get(b, filler)) for b in range(first, last + 1, interval)]


def reading_time(value: int | float | str | None, *, now_ms: int, field: str = "ts") -> int | None:
    """A device-sent timestamp (epoch s or ms, ISO 8601, relative) as epoch ms; None is "now"."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{field}: a time cannot be true or false", field=field)
    if isinstance(value, int):
        # Fast path for the common case (ingest batches), same rule as parse_time: up to ten
        # digits are seconds, up to thirteen are milliseconds.
        if 0 <= value < 10**10:
            return value * 1000
        if 0 <= value < 10**13:
            return value
        raise InvalidInput(f"{field}: {value} is not an epoch time in s or ms", field=field)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field}: {value} is not an epoch time in s or ms", field=field)
        if value.is_integer():
            # repr() would add ".0" (or an exponent), turning 13-digit milliseconds into a
            # "fractional" timestamp; a whole float is read exactly like the int it equals.
            return reading_time(int(value), now_ms=now_ms, field=field)
        # Positional notation: repr() writes small or huge floats with an exponent.
        return _time(format(Decimal(repr(value)), "f"), field, now_ms)
    return _time(value, field, now_ms)
