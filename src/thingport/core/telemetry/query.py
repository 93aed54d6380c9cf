"""The query planner's typed values (time ranges, downsampling, aggregators, fill policies) and
the rules on them that hold for every dialect. Each dialect parses its own spelling into these."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from thingport.kit.errors import InvalidInput
from thingport.kit.timeparse import UNIT_MS, TimeParseError, parse_time

MAX_BUCKETS = 100_000
# Query times must lie in years 1 to 9999 (UTC), the span datetime can represent: dialects format
# them as dates, and anything beyond is a mistake (e.g. "99999y-ago") that would otherwise reach
# SQL as an out-of-range int64.
MIN_TIME_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_INTERVAL_MS = 10_000 * UNIT_MS["y"]  # longer than any range, far from int64 limits


class Aggregator(StrEnum):
    """How the points of one bucket become one value (docs/ARCHITECTURE.md section 6)."""

    MIN = "min"
    MAX = "max"
    SUM = "sum"
    AVG = "avg"
    COUNT = "count"
    FIRST = "first"
    LAST = "last"
    DEV = "dev"  # population standard deviation
    RATE = "rate"  # change per second between consecutive points


class Fill(StrEnum):
    """OpenTSDB's policies for buckets without points. JSON has no NaN, so NAN renders like
    NULL in JSON dialects."""

    NONE = "none"  # leave empty buckets out
    NULL = "null"
    NAN = "nan"
    ZERO = "zero"


def check_time(ms: int, *, field: str, given: str | int | None = None) -> None:
    """Refuse a time outside the years 1 to 9999. `given` is the time as the client wrote it,
    so the message names what they sent rather than what it came to."""
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        shown = ms if given is None else given
        raise InvalidInput(f"{field}: {shown!r} is outside the years 1 to 9999", field=field)


def check_interval(interval_ms: int, *, field: str = "rollup", given: str | None = None) -> None:
    """Refuse a bucket interval that is not positive or longer than 10000y. `given` is the
    interval as the client wrote it; a dialect prefixes the message with its own context."""
    shown = f"{interval_ms}ms" if given is None else given
    if interval_ms < 1:
        raise InvalidInput(f"the interval {shown!r} is not positive", field=field)
    if interval_ms > MAX_INTERVAL_MS:
        raise InvalidInput(f"the interval {shown!r} is longer than 10000y", field=field)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Epoch milliseconds, both ends inclusive; validated on construction."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        check_time(self.start_ms, field="start")
        check_time(self.end_ms, field="end")
        if self.end_ms < self.start_ms:
            raise InvalidInput("end is before start", field="end")


@dataclass(frozen=True, slots=True)
class Downsample:
    """Buckets of `interval_ms` starting at `ts - ts % interval_ms` (UTC), each valued by the
    aggregator; empty buckets follow the fill policy. Validated on construction."""

    interval_ms: int
    aggregator: Aggregator
    fill: Fill = Fill.NONE

    def __post_init__(self) -> None:
        check_interval(self.interval_ms)


def check_bucket_count(time_range: TimeRange, downsample: Downsample) -> None:
    # Count the buckets apply_fill produces: from the bucket of start to the bucket of end. A
    # range that starts late in one bucket and ends early in another touches one bucket more
    # than its length divided by the interval suggests.
    interval = downsample.interval_ms
    first = time_range.start_ms - time_range.start_ms % interval
    last = time_range.end_ms - time_range.end_ms % interval
    buckets = (last - first) // interval + 1
    if downsample.fill is not Fill.NONE and buckets > MAX_BUCKETS:
        raise InvalidInput(
            f"{buckets} buckets requested with a fill policy; at most {MAX_BUCKETS} "
            "(use a longer interval or a shorter range)",
            field="rollup",
        )


def apply_fill(
    buckets: Sequence[tuple[int, float]], time_range: TimeRange, downsample: Downsample
) -> list[tuple[int, float | None]]:
    """Add the empty buckets between start and end, valued by the fill policy."""
    if downsample.fill is Fill.NONE:
        return list(buckets)
    filler: float | None = {Fill.ZERO: 0.0, Fill.NAN: math.nan}.get(downsample.fill)
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
        return time_text_ms(format(Decimal(repr(value)), "f"), field, now_ms)
    return time_text_ms(value, field, now_ms)


def time_text_ms(text: str, field: str, now_ms: int) -> int:
    """A time text (kit/timeparse.py) as epoch ms within the years the core accepts; an
    InvalidInput naming `field` otherwise. Shared by device-sent times and query parameters."""
    try:
        ms = parse_time(text, now_ms=now_ms)
    except TimeParseError as error:
        raise InvalidInput(f"{field}: {error}", field=field) from error
    check_time(ms, field=field, given=text)
    return ms
