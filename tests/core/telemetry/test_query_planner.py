"""The query planner: typed ranges and downsampling, fill policies, bucket limits, reading times.

Expected values are written out by hand or computed with datetime, never with the module itself.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thingport.core.telemetry.query import (
    MAX_BUCKETS,
    Aggregator,
    Downsample,
    Fill,
    TimeRange,
    apply_fill,
    check_bucket_count,
    check_interval,
    check_time,
    reading_time,
)
from thingport.kit.errors import InvalidInput

SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000
NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z
AVG, SUM, COUNT = Aggregator.AVG, Aggregator.SUM, Aggregator.COUNT


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return round(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def test_now_constant() -> None:
    assert utc_ms(2023, 11, 14, 22, 13, 20) == NOW


# --- the typed values -----------------------------------------------------------------------


def test_aggregators_and_fills_are_the_opentsdb_ones() -> None:
    assert list(Aggregator) == ["min", "max", "sum", "avg", "count", "first", "last", "dev", "rate"]
    assert list(Fill) == ["none", "null", "nan", "zero"]


def test_default_fill_is_none() -> None:
    assert Downsample(HOUR, AVG).fill is Fill.NONE


YEAR_1 = utc_ms(1, 1, 1)
END_OF_9999 = utc_ms(9999, 12, 31, 23, 59, 59) + 999


def test_time_range_limits_are_inclusive() -> None:
    widest = TimeRange(YEAR_1, END_OF_9999)  # the first and the last ms are both allowed
    assert (widest.start_ms, widest.end_ms) == (YEAR_1, END_OF_9999)
    instant = TimeRange(NOW, NOW)  # start equal to end is a range of one ms, not an error
    assert (instant.start_ms, instant.end_ms) == (NOW, NOW)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (YEAR_1 - 1, NOW, "start"),
        (NOW, END_OF_9999 + 1, "end"),
        (-(2**70), NOW, "start"),  # beyond int64: refused before it could reach SQL
        (NOW, 2**70, "end"),
    ],
)
def test_time_range_outside_years_1_to_9999(start: int, end: int, field: str) -> None:
    with pytest.raises(InvalidInput, match="outside the years 1 to 9999") as caught:
        TimeRange(start, end)
    assert caught.value.field == field


def test_time_range_end_before_start() -> None:
    with pytest.raises(InvalidInput, match="end is before start") as caught:
        TimeRange(NOW, NOW - 1)
    assert caught.value.field == "end"


def test_check_time_names_what_the_client_wrote() -> None:
    check_time(YEAR_1, field="from")
    with pytest.raises(InvalidInput) as caught:
        check_time(YEAR_1 - 1, field="from", given="3000y-ago")
    assert caught.value.message == "from: '3000y-ago' is outside the years 1 to 9999"
    assert caught.value.field == "from"
    with pytest.raises(InvalidInput, match=f"^to: {END_OF_9999 + 1} is outside"):
        check_time(END_OF_9999 + 1, field="to")


def test_interval_limit() -> None:
    assert Downsample(10_000 * 365 * DAY, AVG).interval_ms == 10_000 * 365 * DAY
    for interval in (10_000 * 365 * DAY + 1, 10**30):
        with pytest.raises(InvalidInput, match="longer than 10000y") as caught:
            Downsample(interval, AVG)
        assert caught.value.field == "rollup"
        assert f"'{interval}ms'" in caught.value.message


@pytest.mark.parametrize("interval", [0, -HOUR])
def test_interval_must_be_positive(interval: int) -> None:
    with pytest.raises(InvalidInput, match="not positive") as caught:
        Downsample(interval, AVG)
    assert caught.value.field == "rollup"


def test_check_interval_names_what_the_client_wrote() -> None:
    check_interval(HOUR, given="1h")
    with pytest.raises(InvalidInput) as caught:
        check_interval(10**20, given="10001y", field="bucket")
    assert caught.value.message == "the interval '10001y' is longer than 10000y"
    assert caught.value.field == "bucket"


# --- apply_fill -----------------------------------------------------------------------------

# Buckets of 1 h starting at 2023-11-14T20:00Z; data in hours 21 and 23 only.
H20 = utc_ms(2023, 11, 14, 20)
H21, H22, H23, H24 = H20 + HOUR, H20 + 2 * HOUR, H20 + 3 * HOUR, H20 + 4 * HOUR
DATA = [(H21, 1.5), (H23, -2.0)]
# From 20:30 (bucket 20:00) to 00:00:00 next day exactly (bucket 00:00, included).
GAPPY = TimeRange(H20 + 30 * MINUTE, H24)


def test_fill_none_returns_the_buckets_unchanged() -> None:
    assert apply_fill(DATA, GAPPY, Downsample(HOUR, AVG, Fill.NONE)) == DATA


def test_fill_zero() -> None:
    assert apply_fill(DATA, GAPPY, Downsample(HOUR, AVG, Fill.ZERO)) == [
        (H20, 0.0),
        (H21, 1.5),
        (H22, 0.0),
        (H23, -2.0),
        (H24, 0.0),
    ]


def test_fill_null() -> None:
    assert apply_fill(DATA, GAPPY, Downsample(HOUR, AVG, Fill.NULL)) == [
        (H20, None),
        (H21, 1.5),
        (H22, None),
        (H23, -2.0),
        (H24, None),
    ]


def test_fill_nan() -> None:
    got = apply_fill(DATA, GAPPY, Downsample(HOUR, AVG, Fill.NAN))
    assert [ts for ts, _ in got] == [H20, H21, H22, H23, H24]
    values = [value for _, value in got]
    assert values[1] == 1.5
    assert values[3] == -2.0
    for index in (0, 2, 4):
        value = values[index]
        assert value is not None
        assert math.isnan(value)


def test_fill_end_just_before_a_bucket_boundary() -> None:
    time_range = TimeRange(H21, H23 - 1)  # ends at 22:59:59.999, so the 23:00 bucket is out
    assert apply_fill([(H21, 4.0)], time_range, Downsample(HOUR, SUM, Fill.ZERO)) == [
        (H21, 4.0),
        (H22, 0.0),
    ]


def test_fill_without_any_data() -> None:
    time_range = TimeRange(H20 + 1, H20 + 1)
    assert apply_fill([], time_range, Downsample(HOUR, COUNT, Fill.ZERO)) == [(H20, 0.0)]


def test_fill_daily_buckets_start_at_utc_midnight() -> None:
    time_range = TimeRange(utc_ms(2024, 2, 28, 23, 59), utc_ms(2024, 3, 1, 0, 0, 1))
    got = apply_fill([], time_range, Downsample(DAY, AVG, Fill.NULL))
    assert got == [
        (utc_ms(2024, 2, 28), None),
        (utc_ms(2024, 2, 29), None),
        (utc_ms(2024, 3, 1), None),
    ]


@given(
    start=st.integers(0, 10 * DAY),
    interval=st.sampled_from([1_000, 7_000, MINUTE, 5 * MINUTE, HOUR, DAY]),
    fill=st.sampled_from([Fill.NULL, Fill.ZERO]),
    data=st.data(),
)
def test_fill_property(start: int, interval: int, fill: Fill, data: st.DataObject) -> None:
    length = data.draw(st.integers(0, 500 * interval))  # at most 502 buckets
    time_range = TimeRange(start, start + length)
    first, last = start // interval * interval, (start + length) // interval * interval
    expected_starts = list(range(first, last + 1, interval))
    present = data.draw(st.lists(st.sampled_from(expected_starts), unique=True).map(sorted))
    buckets = [(b, float(i + 1)) for i, b in enumerate(present)]
    got = apply_fill(buckets, time_range, Downsample(interval, AVG, fill))
    filler = 0.0 if fill is Fill.ZERO else None
    known = dict(buckets)
    assert got == [(b, known.get(b, filler)) for b in expected_starts]


# --- check_bucket_count ---------------------------------------------------------------------


def test_bucket_limit_exactly_reached_is_allowed() -> None:
    check_bucket_count(TimeRange(0, MAX_BUCKETS - 1), Downsample(1, AVG, Fill.ZERO))
    check_bucket_count(TimeRange(0, MAX_BUCKETS * HOUR - 1), Downsample(HOUR, AVG, Fill.NULL))


def test_bucket_limit_exceeded() -> None:
    with pytest.raises(InvalidInput, match=str(MAX_BUCKETS)) as caught:
        check_bucket_count(TimeRange(0, MAX_BUCKETS), Downsample(1, AVG, Fill.ZERO))
    assert caught.value.field == "rollup"
    with pytest.raises(InvalidInput):
        check_bucket_count(TimeRange(0, MAX_BUCKETS * HOUR), Downsample(HOUR, AVG, Fill.NAN))


def test_bucket_limit_counts_partial_buckets_at_both_ends() -> None:
    """A range shorter than MAX_BUCKETS intervals can still touch MAX_BUCKETS + 1 buckets."""
    # From the last ms of bucket 0 to the first ms of bucket MAX_BUCKETS.
    time_range = TimeRange(HOUR - 1, MAX_BUCKETS * HOUR)
    downsample = Downsample(HOUR, AVG, Fill.ZERO)
    assert len(apply_fill([], time_range, downsample)) == MAX_BUCKETS + 1
    with pytest.raises(InvalidInput):
        check_bucket_count(time_range, downsample)


def test_bucket_limit_ignores_fill_none() -> None:
    check_bucket_count(TimeRange(0, 10 * MAX_BUCKETS), Downsample(1, AVG, Fill.NONE))


@given(
    start=st.integers(0, 10**12),
    interval=st.sampled_from([1, 1_000, MINUTE, HOUR, DAY]),
    extra=st.integers(-2, 2),
    offset=st.integers(0, DAY),
)
def test_bucket_limit_matches_the_filled_length(
    start: int, interval: int, extra: int, offset: int
) -> None:
    # Ends chosen so the number of touched buckets lies around the limit.
    first_bucket = start - start % interval
    last_bucket = first_bucket + (MAX_BUCKETS - 1 + extra) * interval
    end = max(start, last_bucket + offset % interval)
    touched = (end - end % interval - first_bucket) // interval + 1
    downsample = Downsample(interval, SUM, Fill.NULL)
    if touched > MAX_BUCKETS:
        with pytest.raises(InvalidInput):
            check_bucket_count(TimeRange(start, end), downsample)
    else:
        check_bucket_count(TimeRange(start, end), downsample)


# --- reading_time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0),
        (1, 1_000),
        (1_399_322_129, 1_399_322_129_000),
        (9_999_999_999, 9_999_999_999_000),  # 10 digits: seconds
        (10_000_000_000, 10_000_000_000),  # 11 digits: milliseconds
        (1_399_322_129_123, 1_399_322_129_123),
        (9_999_999_999_999, 9_999_999_999_999),  # 13 digits: milliseconds
        (1_399_322_129.5, 1_399_322_129_500),
        (1_399_322_129.0, 1_399_322_129_000),
        (0.25, 250),
        (1e-05, 0),  # repr() would write "1e-05"
        (0.0015, 2),  # half a millisecond rounds up
        (1_399_322_129_000.0, 1_399_322_129_000),  # whole milliseconds as a float
        (1e10, 10_000_000_000),
        ("1399322129", 1_399_322_129_000),
        ("1399322129123", 1_399_322_129_123),
        ("2014-05-01T10:00:00Z", utc_ms(2014, 5, 1, 10)),
        ("2014-05-01T12:00:00+02:00", utc_ms(2014, 5, 1, 10)),
        ("2014-05-01T12:00:00 02:00", utc_ms(2014, 5, 1, 10)),  # '+' lost to URL decoding
        ("2014-05-01", utc_ms(2014, 5, 1)),
        ("now", NOW),
        ("1h-ago", NOW - HOUR),
    ],
)
def test_reading_time(value: int | float | str | None, expected: int | None) -> None:
    assert reading_time(value, now_ms=NOW) == expected


@pytest.mark.parametrize("value", [True, False])
def test_reading_time_rejects_bools(value: bool) -> None:
    with pytest.raises(InvalidInput, match="true or false") as caught:
        reading_time(value, now_ms=NOW)
    assert caught.value.field == "ts"


@pytest.mark.parametrize(
    "value",
    [
        -1,
        10_000_000_000_000,
        1e13,
        1e16,
        -1.5,
        1_399_322_129_000.5,  # a fractional epoch time must be in seconds
        "-5",
        "12345678901234",
        "soon",
        "",
        math.nan,
        math.inf,
        -math.inf,
    ],
)
def test_reading_time_rejects(value: int | float | str) -> None:
    with pytest.raises(InvalidInput) as caught:
        reading_time(value, now_ms=NOW, field="timestamp")
    assert caught.value.field == "timestamp"


@given(st.integers(0, 9_999_999_999))
def test_int_seconds_and_their_text_agree(seconds: int) -> None:
    assert reading_time(seconds, now_ms=NOW) == seconds * 1000
    assert reading_time(str(seconds), now_ms=NOW) == seconds * 1000


@given(st.integers(10_000_000_000, 9_999_999_999_999))
def test_int_milliseconds_and_their_text_agree(ms: int) -> None:
    assert reading_time(ms, now_ms=NOW) == ms
    assert reading_time(str(ms), now_ms=NOW) == ms


@given(st.integers(0, 9_999_999_999_999))
def test_integral_floats_read_like_ints(number: int) -> None:
    assert reading_time(float(number), now_ms=NOW) == reading_time(number, now_ms=NOW)
