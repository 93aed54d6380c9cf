"""The query planner: downsample specs, time ranges, fill policies, bucket limits, reading times.

Expected values are written out by hand or computed with datetime, never with the module itself.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thingport.core.telemetry.query import (
    FILLS,
    MAX_BUCKETS,
    Downsample,
    TimeRange,
    apply_fill,
    check_bucket_count,
    parse_downsample,
    parse_range,
    reading_time,
)
from thingport.kit.errors import InvalidInput

SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000
NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z
AGGREGATORS = ("min", "max", "sum", "avg", "count", "first", "last", "dev", "rate")


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return round(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def test_now_constant() -> None:
    assert utc_ms(2023, 11, 14, 22, 13, 20) == NOW


# --- parse_downsample -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1h-avg", Downsample(HOUR, "avg", "none")),
        ("10m-max", Downsample(10 * MINUTE, "max", "none")),
        ("1d-dev-zero", Downsample(DAY, "dev", "zero")),
        ("500ms-count-null", Downsample(500, "count", "null")),
        ("1n-sum", Downsample(30 * DAY, "sum", "none")),
        ("2w-min-nan", Downsample(14 * DAY, "min", "nan")),
        ("1y-last-none", Downsample(365 * DAY, "last", "none")),
        ("15s-rate", Downsample(15 * SECOND, "rate", "none")),
        ("  1h-avg  ", Downsample(HOUR, "avg", "none")),  # surrounding whitespace is ignored
        ("1h-AVG-ZERO", Downsample(HOUR, "avg", "zero")),  # aggregator and fill ignore case
    ],
)
def test_parse_downsample_valid(spec: str, expected: Downsample) -> None:
    assert parse_downsample(spec) == expected


@pytest.mark.parametrize("aggregator", AGGREGATORS)
def test_every_aggregator_is_accepted(aggregator: str) -> None:
    assert parse_downsample(f"5m-{aggregator}") == Downsample(5 * MINUTE, aggregator, "none")


@pytest.mark.parametrize("fill", FILLS)
def test_every_fill_is_accepted(fill: str) -> None:
    assert parse_downsample(f"1h-sum-{fill}") == Downsample(HOUR, "sum", fill)


def test_fill_list_is_the_opentsdb_one() -> None:
    assert set(FILLS) == {"none", "null", "nan", "zero"}


def test_default_fill_is_none() -> None:
    assert parse_downsample("1h-avg").fill == "none"


def test_month_unit_m_for_smartcitizen() -> None:
    assert parse_downsample("1M-avg", month_unit="M") == Downsample(30 * DAY, "avg")
    assert parse_downsample("1m-avg", month_unit="M") == Downsample(MINUTE, "avg")
    with pytest.raises(InvalidInput) as caught:
        parse_downsample("1n-avg", month_unit="M")
    assert "1n" in caught.value.message


@pytest.mark.parametrize(
    ("spec", "bad_part"),
    [
        ("1h", "<interval>-<aggregator>[-<fill>]"),
        ("", "<interval>-<aggregator>[-<fill>]"),
        ("1h-avg-zero-extra", "<interval>-<aggregator>[-<fill>]"),
        ("1x-avg", "'1x'"),
        ("1H-avg", "'1H'"),
        ("h-avg", "'h'"),
        ("0h-avg", "'0h'"),
        ("1.5h-avg", "'1.5h'"),
        ("1h-median", "'median'"),
        ("1h-", "''"),
        ("1h-avg-linear", "'linear'"),
        ("1h-avg-", "''"),
    ],
)
def test_parse_downsample_invalid(spec: str, bad_part: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_downsample(spec)
    assert caught.value.field == "rollup"
    assert bad_part in caught.value.message
    assert caught.value.status == 400


def test_interval_limit() -> None:
    assert parse_downsample("10000y-avg").interval_ms == 10_000 * 365 * DAY
    assert parse_downsample("520000w-avg").interval_ms == 520_000 * 7 * DAY
    for spec in ("10001y-avg", "99999999999999999999y-avg", "9999999999999999999999ms-sum"):
        with pytest.raises(InvalidInput, match="longer than 10000y") as caught:
            parse_downsample(spec)
        assert caught.value.field == "rollup"
        assert spec.split("-")[0] in caught.value.message


def test_unknown_aggregator_message_lists_the_choices() -> None:
    with pytest.raises(InvalidInput, match="unknown aggregator 'median'") as caught:
        parse_downsample("1h-median")
    for aggregator in AGGREGATORS:
        assert aggregator in caught.value.message


def test_unknown_fill_message_lists_the_choices() -> None:
    with pytest.raises(InvalidInput, match="unknown fill policy 'linear'") as caught:
        parse_downsample("1h-avg-linear")
    for fill in FILLS:
        assert fill in caught.value.message


def test_bad_interval_names_the_unit() -> None:
    with pytest.raises(InvalidInput, match="unknown unit 'x'"):
        parse_downsample("1x-avg")


def test_custom_field_name_is_used() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_downsample("1h-nope", field="downsample")
    assert caught.value.field == "downsample"
    assert caught.value.message.startswith("downsample ")


def test_spec_round_trips() -> None:
    for text in ("1h-avg", "10m-max-zero", "500ms-count-null"):
        downsample = parse_downsample(text)
        assert parse_downsample(downsample.spec) == downsample


# --- parse_range ----------------------------------------------------------------------------


@pytest.mark.parametrize("start", [None, "", "   "])
def test_start_is_required(start: str | None) -> None:
    with pytest.raises(InvalidInput, match="start is required") as caught:
        parse_range(start, "now", now_ms=NOW)
    assert caught.value.field == "start"


def test_custom_field_names() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_range(None, None, now_ms=NOW, start_field="from", end_field="to")
    assert caught.value.field == "from"
    with pytest.raises(InvalidInput) as caught:
        parse_range("now", "1h-ago", now_ms=NOW, start_field="from", end_field="to")
    assert caught.value.field == "to"


@pytest.mark.parametrize("end", [None, "", "  "])
def test_end_defaults_to_now(end: str | None) -> None:
    assert parse_range("1h-ago", end, now_ms=NOW) == TimeRange(NOW - HOUR, NOW)


def test_absolute_range() -> None:
    got = parse_range("2014-05-01T10:00:00Z", "1399932000", now_ms=NOW)
    assert got == TimeRange(utc_ms(2014, 5, 1, 10), utc_ms(2014, 5, 12, 22))


def test_start_equal_to_end_is_allowed() -> None:
    assert parse_range("1399932000000", "1399932000", now_ms=NOW) == TimeRange(
        1_399_932_000_000, 1_399_932_000_000
    )


def test_end_before_start() -> None:
    with pytest.raises(InvalidInput, match="end is before start") as caught:
        parse_range("2014-05-02", "2014-05-01", now_ms=NOW)
    assert caught.value.field == "end"


def test_start_in_the_future_without_end() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_range("2999-01-01", None, now_ms=NOW)
    assert caught.value.field == "end"


@pytest.mark.parametrize(
    ("start", "end", "field"), [("yesterday-ish", None, "start"), ("1h-ago", "later", "end")]
)
def test_unparseable_times_name_their_field(start: str, end: str | None, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_range(start, end, now_ms=NOW)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")


YEAR_1 = utc_ms(1, 1, 1)
END_OF_9999 = utc_ms(9999, 12, 31, 23, 59, 59) + 999


def test_range_limits() -> None:
    assert parse_range("0001-01-01", "9999-12-31T23:59:59.999Z", now_ms=NOW) == TimeRange(
        YEAR_1, END_OF_9999
    )
    assert parse_range("1969-07-20T20:17:40Z", None, now_ms=NOW).start_ms == utc_ms(
        1969, 7, 20, 20, 17, 40
    )
    year_1_ago = f"{NOW - YEAR_1}ms-ago"
    assert parse_range(year_1_ago, None, now_ms=NOW).start_ms == YEAR_1


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("3000y-ago", None, "start"),  # before year 1
        (f"{NOW - utc_ms(1, 1, 1) + 1}ms-ago", None, "start"),  # 1 ms before year 1
        ("99999999999999999999y-ago", None, "start"),  # beyond int64
        ("99999999999999999999y-ago", "99999999999999999999y-ago", "start"),
        ("1h-ago", "99999999999999999999y-ago", "end"),
    ],
)
def test_range_outside_years_1_to_9999(start: str, end: str | None, field: str) -> None:
    with pytest.raises(InvalidInput, match="outside the years 1 to 9999") as caught:
        parse_range(start, end, now_ms=NOW)
    assert caught.value.field == field
    assert start in caught.value.message or (end is not None and end in caught.value.message)


# --- apply_fill -----------------------------------------------------------------------------

# Buckets of 1 h starting at 2023-11-14T20:00Z; data in hours 21 and 23 only.
H20 = utc_ms(2023, 11, 14, 20)
H21, H22, H23, H24 = H20 + HOUR, H20 + 2 * HOUR, H20 + 3 * HOUR, H20 + 4 * HOUR
DATA = [(H21, 1.5), (H23, -2.0)]
# From 20:30 (bucket 20:00) to 00:00:00 next day exactly (bucket 00:00, included).
GAPPY = TimeRange(H20 + 30 * MINUTE, H24)


def test_fill_none_returns_the_buckets_unchanged() -> None:
    assert apply_fill(DATA, GAPPY, Downsample(HOUR, "avg", "none")) == DATA


def test_fill_zero() -> None:
    assert apply_fill(DATA, GAPPY, Downsample(HOUR, "avg", "zero")) == [
        (H20, 0.0),
        (H21, 1.5),
        (H22, 0.0),
        (H23, -2.0),
        (H24, 0.0),
    ]


def test_fill_null() -> None:
    assert apply_fill(DATA, GAPPY, Downsample(HOUR, "avg", "null")) == [
        (H20, None),
        (H21, 1.5),
        (H22, None),
        (H23, -2.0),
        (H24, None),
    ]


def test_fill_nan() -> None:
    got = apply_fill(DATA, GAPPY, Downsample(HOUR, "avg", "nan"))
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
    assert apply_fill([(H21, 4.0)], time_range, Downsample(HOUR, "sum", "zero")) == [
        (H21, 4.0),
        (H22, 0.0),
    ]


def test_fill_without_any_data() -> None:
    time_range = TimeRange(H20 + 1, H20 + 1)
    assert apply_fill([], time_range, Downsample(HOUR, "count", "zero")) == [(H20, 0.0)]


def test_fill_daily_buckets_start_at_utc_midnight() -> None:
    time_range = TimeRange(utc_ms(2024, 2, 28, 23, 59), utc_ms(2024, 3, 1, 0, 0, 1))
    got = apply_fill([], time_range, Downsample(DAY, "avg", "null"))
    assert got == [
        (utc_ms(2024, 2, 28), None),
        (utc_ms(2024, 2, 29), None),
        (utc_ms(2024, 3, 1), None),
    ]


@given(
    start=st.integers(0, 10 * DAY),
    interval=st.sampled_from([1_000, 7_000, MINUTE, 5 * MINUTE, HOUR, DAY]),
    fill=st.sampled_from(["null", "zero"]),
    data=st.data(),
)
def test_fill_property(start: int, interval: int, fill: str, data: st.DataObject) -> None:
    length = data.draw(st.integers(0, 500 * interval))  # at most 502 buckets
    time_range = TimeRange(start, start + length)
    first, last = start // interval * interval, (start + length) // interval * interval
    expected_starts = list(range(first, last + 1, interval))
    present = data.draw(st.lists(st.sampled_from(expected_starts), unique=True).map(sorted))
    buckets = [(b, float(i + 1)) for i, b in enumerate(present)]
    got = apply_fill(buckets, time_range, Downsample(interval, "avg", fill))
    filler = 0.0 if fill == "zero" else None
    known = dict(buckets)
    assert got == [(b, known.get(b, filler)) for b in expected_starts]


# --- check_bucket_count ---------------------------------------------------------------------


def test_bucket_limit_exactly_reached_is_allowed() -> None:
    check_bucket_count(TimeRange(0, MAX_BUCKETS - 1), Downsample(1, "avg", "zero"))
    check_bucket_count(TimeRange(0, MAX_BUCKETS * HOUR - 1), Downsample(HOUR, "avg", "null"))


def test_bucket_limit_exceeded() -> None:
    with pytest.raises(InvalidInput, match=str(MAX_BUCKETS)) as caught:
        check_bucket_count(TimeRange(0, MAX_BUCKETS), Downsample(1, "avg", "zero"))
    assert caught.value.field == "rollup"
    with pytest.raises(InvalidInput):
        check_bucket_count(TimeRange(0, MAX_BUCKETS * HOUR), Downsample(HOUR, "avg", "nan"))


def test_bucket_limit_counts_partial_buckets_at_both_ends() -> None:
    """A range shorter than MAX_BUCKETS intervals can still touch MAX_BUCKETS + 1 buckets."""
    # From the last ms of bucket 0 to the first ms of bucket MAX_BUCKETS.
    time_range = TimeRange(HOUR - 1, MAX_BUCKETS * HOUR)
    downsample = Downsample(HOUR, "avg", "zero")
    assert len(apply_fill([], time_range, downsample)) == MAX_BUCKETS + 1
    with pytest.raises(InvalidInput):
        check_bucket_count(time_range, downsample)


def test_bucket_limit_ignores_fill_none() -> None:
    check_bucket_count(TimeRange(0, 10 * MAX_BUCKETS), Downsample(1, "avg", "none"))


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
    downsample = Downsample(interval, "sum", "null")
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
