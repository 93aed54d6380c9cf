"""Tests for thingport.kit.timeparse; expected values are computed independently via datetime."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thingport.kit.timeparse import (
    UNIT_MS,
    TimeParseError,
    format_iso,
    parse_duration,
    parse_time,
)

NOW = 1_700_000_000_000  # a fixed "now" for relative times
SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000
MAY_1_2014_10H = 1_398_938_400_000  # 2014-05-01T10:00:00Z, checked in test_reference_constant


def utc_ms(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> int:
    """Epoch ms of a UTC wall-clock time, computed with datetime rather than the module."""
    moment = datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def test_reference_constant() -> None:
    assert utc_ms(2014, 5, 1, 10) == MAY_1_2014_10H


# --- parse_duration -------------------------------------------------------------------------


def test_unit_table() -> None:
    assert UNIT_MS == {
        "ms": 1,
        "s": SECOND,
        "m": MINUTE,
        "h": HOUR,
        "d": DAY,
        "w": 7 * DAY,
        "n": 30 * DAY,
        "y": 365 * DAY,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1ms", 1),
        ("500ms", 500),
        ("1s", SECOND),
        ("90s", 90 * SECOND),
        ("1m", MINUTE),
        ("15m", 15 * MINUTE),
        ("1h", HOUR),
        ("36h", 36 * HOUR),
        ("2d", 2 * DAY),
        ("1w", 7 * DAY),
        ("1n", 30 * DAY),
        ("2n", 60 * DAY),
        ("1y", 365 * DAY),
        ("10000y", 10_000 * 365 * DAY),
        ("007s", 7 * SECOND),
        ("  5m  ", 5 * MINUTE),
        ("\t1h\n", HOUR),
    ],
)
def test_parse_duration(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5ms", 5), ("5m", 5 * MINUTE), ("1ms", 1), ("1m", MINUTE), ("60000ms", MINUTE)],
)
def test_ms_wins_over_m(text: str, expected: int) -> None:
    assert parse_duration(text) == expected
    assert parse_time(f"{text}-ago", now_ms=NOW) == NOW - expected


def test_capital_m_is_not_a_unit() -> None:
    # OpenTSDB's month is 'n'; SmartCitizen's 'M' is that dialect's own spelling.
    with pytest.raises(TimeParseError, match=r"unknown unit 'M' \(use ms, s, m, h, d, w, n, y\)"):
        parse_duration("1M")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0m", "positive whole number"),
        ("00h", "positive whole number"),
        ("-5m", "positive whole number"),
        ("+5m", "positive whole number"),
        ("1.5h", "positive whole number"),
        ("1.h", "positive whole number"),
        ("m", "amount is missing"),
        ("ms", "amount is missing"),
        ("-m", "amount is missing"),
        ("5", "unit is missing"),
        ("5x", "unknown unit 'x'"),
        ("5mm", "unknown unit 'mm'"),
        ("5H", "unknown unit 'H'"),
        ("5sec", "unknown unit 'sec'"),
        ("1e3s", "unknown unit 'e3s'"),
        ("5 m", "whitespace"),
        ("5\tm", "whitespace"),
        ("1h 5m", "whitespace"),
    ],
)
def test_parse_duration_rejects(text: str, reason: str) -> None:
    with pytest.raises(TimeParseError, match=reason) as info:
        parse_duration(text)
    assert str(info.value).startswith(f"{text!r} is not a valid duration: ")


# --- parse_time: now and relative times ----------------------------------------------------


@pytest.mark.parametrize("text", ["now", "NOW", "Now", "  now  "])
def test_now(text: str) -> None:
    assert parse_time(text, now_ms=NOW) == NOW


def test_now_defaults_to_the_clock() -> None:
    before = int(time.time() * 1000)
    parsed = parse_time("now")
    after = int(time.time() * 1000)
    assert before <= parsed <= after
    before = int(time.time() * 1000)
    parsed = parse_time("1h-ago")
    after = int(time.time() * 1000)
    assert before - HOUR <= parsed <= after - HOUR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h-ago", NOW - HOUR),
        ("2n-ago", NOW - 2 * 30 * DAY),
        ("3y-ago", NOW - 3 * 365 * DAY),
        ("500ms-ago", NOW - 500),
        ("5m-ago", NOW - 5 * MINUTE),
        ("30s-ago", NOW - 30 * SECOND),
        ("1d-ago", NOW - DAY),
        ("2w-ago", NOW - 14 * DAY),
        (" 1d-ago ", NOW - DAY),
        ("1h-AGO", NOW - HOUR),
    ],
)
def test_relative(text: str, expected: int) -> None:
    assert parse_time(text, now_ms=NOW) == expected


# --- parse_time: epoch numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1", SECOND),
        ("1399322129", utc_ms(2014, 5, 5, 20, 35, 29)),
        ("0000000001", SECOND),  # 10 digits: still seconds
        ("9999999999", 9_999_999_999 * SECOND),  # the largest seconds value
        ("10000000000", 10_000_000_000),  # 11 digits: milliseconds
        ("139932212900", 139_932_212_900),  # 12 digits: milliseconds
        ("1399322129000", utc_ms(2014, 5, 5, 20, 35, 29)),  # 13 digits: milliseconds
        ("1399322129123", utc_ms(2014, 5, 5, 20, 35, 29, 123_000)),
        ("1399322129.5", utc_ms(2014, 5, 5, 20, 35, 29, 500_000)),
        ("1399322129.123", utc_ms(2014, 5, 5, 20, 35, 29, 123_000)),
        ("1399322129.0004", utc_ms(2014, 5, 5, 20, 35, 29)),  # rounds down
        ("1399322129.0005", utc_ms(2014, 5, 5, 20, 35, 29, 1_000)),  # halves round up
        ("1399322129.9999", utc_ms(2014, 5, 5, 20, 35, 30)),
        (" 1399322129 ", utc_ms(2014, 5, 5, 20, 35, 29)),
    ],
)
def test_epoch(text: str, expected: int) -> None:
    assert parse_time(text) == expected


def test_ten_versus_thirteen_digits() -> None:
    seconds = "1399322129"
    assert len(seconds) == 10
    assert parse_time(seconds) == parse_time(seconds + "000") == 1_399_322_129_000


# --- parse_time: ISO 8601 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-05-01", utc_ms(2014, 5, 1)),
        ("2014-05-01T10:00", MAY_1_2014_10H),
        ("2014-05-01T10:00:00", MAY_1_2014_10H),
        ("2014-05-01 10:00:00", MAY_1_2014_10H),
        ("2014-05-01T10:00:00Z", MAY_1_2014_10H),
        ("2014-05-01T10:00:00+00:00", MAY_1_2014_10H),
        ("2014-05-01T10:00:00.123+02:00", utc_ms(2014, 5, 1, 8, 0, 0, 123_000)),
        ("2014-05-01T10:00:00.123456Z", utc_ms(2014, 5, 1, 10, 0, 0, 123_000)),
        ("2014-05-01T10:00:00.0005Z", utc_ms(2014, 5, 1, 10, 0, 0, 1_000)),  # halves round up
        ("2014-05-01T10:00:00+0200", utc_ms(2014, 5, 1, 8)),
        ("2014-05-01T10:00:00-05:30", utc_ms(2014, 5, 1, 15, 30)),
        ("2014-05-01T10:00:00+14:00", utc_ms(2014, 4, 30, 20)),
        ("2014-05-01T00:30:00+01:00", utc_ms(2014, 4, 30, 23, 30)),
        ("1969-12-31T23:59:59Z", -SECOND),
        ("  2014-05-01T10:00:00Z  ", MAY_1_2014_10H),
    ],
)
def test_iso(text: str, expected: int) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-05-01T10:00:00 02:00", utc_ms(2014, 5, 1, 8)),
        ("2014-05-01 10:00:00 0200", utc_ms(2014, 5, 1, 8)),
        ("2014-05-01T10:00 02:00", utc_ms(2014, 5, 1, 8)),
        ("2014-05-01T10:00:00.123 02:00", utc_ms(2014, 5, 1, 8, 0, 0, 123_000)),
        ("2014-05-01T10:00:00 05:30", utc_ms(2014, 5, 1, 4, 30)),
        ("2014-05-01T10:00:00 14:00", utc_ms(2014, 4, 30, 20)),
        ("2014-05-01T10:00:00 00:00", MAY_1_2014_10H),
        ("1 May 2014 10:00 02:00", utc_ms(2014, 5, 1, 8)),
        ("2014/05/01 10:00:00 0200", utc_ms(2014, 5, 1, 8)),
    ],
)
def test_space_for_plus_offset(text: str, expected: int) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A trailing year after a time of day is not an offset (its "hours" are above 14).
        ("Thu May  1 10:00:00 2014", MAY_1_2014_10H),
        ("May 1 10:00 2014", MAY_1_2014_10H),
        # A trailing group that does not follow a time of day is never an offset.
        ("2014-05-01 10:00", MAY_1_2014_10H),
    ],
)
def test_trailing_numbers_that_are_not_offsets(text: str, expected: int) -> None:
    assert parse_time(text) == expected


# --- parse_time: OpenTSDB and free-form dates ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014/05/01-12:00:00", utc_ms(2014, 5, 1, 12)),
        ("2014/05/01-12:00", utc_ms(2014, 5, 1, 12)),
        ("2014/05/01 12:00:00", utc_ms(2014, 5, 1, 12)),
        ("2014/05/01 12:00", utc_ms(2014, 5, 1, 12)),
        ("2014/05/01", utc_ms(2014, 5, 1)),
        ("2014/05/01-23:59:59", utc_ms(2014, 5, 1, 23, 59, 59)),
    ],
)
def test_opentsdb_formats(text: str, expected: int) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("May 1 2014", utc_ms(2014, 5, 1)),
        ("1 May 2014", utc_ms(2014, 5, 1)),
        ("1 May 2014 10:00", MAY_1_2014_10H),
        ("May 1, 2014 10:00 PM", utc_ms(2014, 5, 1, 22)),
        ("Thursday, 1 May 2014 10:00:00", MAY_1_2014_10H),
        ("2014-05-01 10:00:00 UTC", MAY_1_2014_10H),
        ("1 May 2014 10:00 GMT", MAY_1_2014_10H),
        ("1 May 2014 10:00 +0300", utc_ms(2014, 5, 1, 7)),
        ("1 May 2014 10:00 -03:00", utc_ms(2014, 5, 1, 13)),
        ("Thu, 01 May 2014 10:00:00 +0000", MAY_1_2014_10H),  # RFC 2822
        ("Feb 29 2016", utc_ms(2016, 2, 29)),
    ],
)
def test_free_form(text: str, expected: int) -> None:
    assert parse_time(text) == expected


# --- parse_time: rejections -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "expected 'now'"),
        ("yesterday-ish", "expected 'now'"),
        ("nowish", "expected 'now'"),
        ("-5", "negative"),
        ("-1399322129", "negative"),
        ("-1.5", "negative"),
        ("12345678901234", "at most 10 digits"),
        ("1399322129000.5", "fractional epoch timestamp must be in seconds"),
        ("2014-02-30", "day is out of range"),
        ("2014-13-01", "month must be in 1..12"),
        ("2014/13/01", "month"),
        ("2014/05/01-25:00:00", "hour"),
        ("2014-05-01T25:00", "hour"),
        ("Feb 29 2015", "day is out of range"),
        ("99999-01-01", "out of range"),
        ("1 May 2014 10:00 +9999", "out of range"),
        ("10:00", "full date"),
        ("May", "full date"),
        ("May 1", "full date"),
        ("May 2014", "full date"),
        ("1 May 2014 10:00 EST", "unknown time zone 'EST'"),
    ],
)
def test_parse_time_rejects(text: str, reason: str) -> None:
    with pytest.raises(TimeParseError, match=reason) as info:
        parse_time(text, now_ms=NOW)
    assert str(info.value).startswith(f"{text!r} is not a valid time: ")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1x-ago", "unknown unit 'x'"),
        ("1M-ago", "unknown unit 'M'"),
        ("-ago", "empty"),
        ("h-ago", "amount is missing"),
        ("0h-ago", "positive whole number"),
        ("-1h-ago", "positive whole number"),
        ("1.5h-ago", "positive whole number"),
        ("1-ago", "unit is missing"),
        ("1 h-ago", "whitespace"),
    ],
)
def test_parse_time_rejects_relative(text: str, reason: str) -> None:
    with pytest.raises(TimeParseError, match=reason) as info:
        parse_time(text, now_ms=NOW)
    assert str(info.value).startswith(f"{text!r} is not a valid relative time: ")


def test_error_message_is_a_sentence_naming_the_input() -> None:
    with pytest.raises(TimeParseError) as info:
        parse_time("5x-ago")
    assert str(info.value) == (
        "'5x-ago' is not a valid relative time: unknown unit 'x' (use ms, s, m, h, d, w, n, y)"
    )


def test_time_parse_error_is_a_value_error() -> None:
    assert issubclass(TimeParseError, ValueError)


# --- format_iso -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (1_399_322_129_000, "2014-05-05T20:35:29"),
        (1_399_322_129_999, "2014-05-05T20:35:29"),  # the fraction is dropped, not rounded
        (0, "1970-01-01T00:00:00"),
        (-1, "1969-12-31T23:59:59"),
        (MAY_1_2014_10H, "2014-05-01T10:00:00"),
        (utc_ms(2100, 12, 31, 23, 59, 59), "2100-12-31T23:59:59"),
    ],
)
def test_format_iso(ms: int, expected: str) -> None:
    assert format_iso(ms) == expected


# --- properties -----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_aware_datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2100, 12, 31, 23, 59, 59, 999_000),
    timezones=_offsets,
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))


@settings(database=None)
@given(_aware_datetimes)
def test_iso_round_trip(moment: datetime) -> None:
    expected = (moment - _EPOCH) // timedelta(milliseconds=1)
    text = moment.isoformat()
    assert parse_time(text) == expected
    assert parse_time(text.replace("+", " ")) == expected


@settings(database=None)
@given(
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from(sorted(UNIT_MS)),
    st.integers(min_value=0, max_value=2**45),
)
def test_relative_property(amount: int, unit: str, now_ms: int) -> None:
    assert parse_time(f"{amount}{unit}-ago", now_ms=now_ms) == now_ms - amount * UNIT_MS[unit]
    assert parse_duration(f"{amount}{unit}") == amount * UNIT_MS[unit]


@settings(database=None)
@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_format_iso_round_trip(ms: int) -> None:
    assert parse_time(format_iso(ms)) == ms // 1000 * 1000
