"""Smart Mocha's `rollup`, `start` and `end` parsed into the core's typed query values, with the
messages and fields clients see (CONTRACT.md). Expected values are written out by hand or
computed with datetime."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from thingport.core.telemetry.query import Aggregator, Downsample, Fill, TimeRange
from thingport.dialects.smartmocha.query_params import downsample, time_range
from thingport.kit.errors import InvalidInput

SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000
NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z
A, F = Aggregator, Fill


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return round(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def test_now_constant() -> None:
    assert utc_ms(2023, 11, 14, 22, 13, 20) == NOW


# --- rollup ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1h-avg", Downsample(HOUR, A.AVG, F.NONE)),
        ("10m-max", Downsample(10 * MINUTE, A.MAX, F.NONE)),
        ("1d-dev-zero", Downsample(DAY, A.DEV, F.ZERO)),
        ("500ms-count-null", Downsample(500, A.COUNT, F.NULL)),
        ("1n-sum", Downsample(30 * DAY, A.SUM, F.NONE)),
        ("2w-min-nan", Downsample(14 * DAY, A.MIN, F.NAN)),
        ("1y-last-none", Downsample(365 * DAY, A.LAST, F.NONE)),
        ("15s-rate", Downsample(15 * SECOND, A.RATE, F.NONE)),
        ("  1h-avg  ", Downsample(HOUR, A.AVG, F.NONE)),  # surrounding whitespace is ignored
        ("1h-AVG-ZERO", Downsample(HOUR, A.AVG, F.ZERO)),  # aggregator and fill ignore case
    ],
)
def test_rollup_valid(spec: str, expected: Downsample) -> None:
    got = downsample(spec)
    assert got == expected
    assert type(got.aggregator) is Aggregator
    assert type(got.fill) is Fill


@pytest.mark.parametrize("aggregator", list(Aggregator))
def test_every_aggregator_is_accepted(aggregator: Aggregator) -> None:
    assert downsample(f"5m-{aggregator}") == Downsample(5 * MINUTE, aggregator)


@pytest.mark.parametrize("fill", list(Fill))
def test_every_fill_is_accepted(fill: Fill) -> None:
    assert downsample(f"1h-sum-{fill}") == Downsample(HOUR, A.SUM, fill)


def test_default_fill_is_none() -> None:
    assert downsample("1h-avg").fill is F.NONE


def test_capital_m_is_not_a_month_here() -> None:
    # SmartCitizen's 'M' month is that dialect's spelling; OpenTSDB's month is 'n'.
    with pytest.raises(InvalidInput, match="unknown unit 'M'"):
        downsample("1M-avg")


@pytest.mark.parametrize("text", [None, "", "   "])
def test_rollup_is_required(text: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        downsample(text)
    assert caught.value.message == "rollup is required, e.g. rollup=1h-avg"
    assert caught.value.field == "rollup"


@pytest.mark.parametrize(
    ("spec", "bad_part"),
    [
        ("1h", "<interval>-<aggregator>[-<fill>]"),
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
def test_rollup_invalid(spec: str, bad_part: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        downsample(spec)
    assert caught.value.field == "rollup"
    assert caught.value.message.startswith(f"rollup {spec!r}")
    assert bad_part in caught.value.message
    assert caught.value.status == 400


def test_rollup_messages_word_for_word() -> None:
    """The exact texts clients have seen (pinned: a change here is a contract change)."""
    cases = {
        "1h": "rollup '1h' must look like <interval>-<aggregator>[-<fill>], e.g. 1h-avg",
        "1x-avg": "rollup '1x-avg': '1x' is not a valid duration: unknown unit 'x' "
        "(use ms, s, m, h, d, w, n, y)",
        "10001y-avg": "rollup '10001y-avg': the interval '10001y' is longer than 10000y",
        "1h-median": "rollup '1h-median': unknown aggregator 'median' "
        "(use min, max, sum, avg, count, first, last, dev, rate)",
        "1h-avg-linear": "rollup '1h-avg-linear': unknown fill policy 'linear' "
        "(use none, null, nan, zero)",
    }
    for spec, message in cases.items():
        with pytest.raises(InvalidInput) as caught:
            downsample(spec)
        assert caught.value.message == message


def test_interval_limit() -> None:
    assert downsample("10000y-avg").interval_ms == 10_000 * 365 * DAY
    assert downsample("520000w-avg").interval_ms == 520_000 * 7 * DAY
    for spec in ("10001y-avg", "99999999999999999999y-avg", "9999999999999999999999ms-sum"):
        with pytest.raises(InvalidInput, match="longer than 10000y") as caught:
            downsample(spec)
        assert caught.value.field == "rollup"
        assert spec.split("-")[0] in caught.value.message


# --- start and end --------------------------------------------------------------------------


@pytest.mark.parametrize("start", [None, "", "   "])
def test_start_is_required(start: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        time_range(start, "now", now_ms=NOW)
    assert caught.value.message == "start is required"
    assert caught.value.field == "start"


@pytest.mark.parametrize("end", [None, "", "  "])
def test_end_defaults_to_now(end: str | None) -> None:
    assert time_range("1h-ago", end, now_ms=NOW) == TimeRange(NOW - HOUR, NOW)


def test_absolute_range() -> None:
    got = time_range("2014-05-01T10:00:00Z", "1399932000", now_ms=NOW)
    assert got == TimeRange(utc_ms(2014, 5, 1, 10), utc_ms(2014, 5, 12, 22))


def test_start_equal_to_end_is_allowed() -> None:
    assert time_range("1399932000000", "1399932000", now_ms=NOW) == TimeRange(
        1_399_932_000_000, 1_399_932_000_000
    )


def test_end_before_start() -> None:
    with pytest.raises(InvalidInput) as caught:
        time_range("2014-05-02", "2014-05-01", now_ms=NOW)
    assert caught.value.message == "end is before start"
    assert caught.value.field == "end"


def test_start_in_the_future_without_end() -> None:
    with pytest.raises(InvalidInput) as caught:
        time_range("2999-01-01", None, now_ms=NOW)
    assert caught.value.field == "end"


@pytest.mark.parametrize(
    ("start", "end", "field"), [("yesterday-ish", None, "start"), ("1h-ago", "later", "end")]
)
def test_unparseable_times_name_their_field(start: str, end: str | None, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        time_range(start, end, now_ms=NOW)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")


YEAR_1 = utc_ms(1, 1, 1)
END_OF_9999 = utc_ms(9999, 12, 31, 23, 59, 59) + 999


def test_range_limits() -> None:
    assert time_range("0001-01-01", "9999-12-31T23:59:59.999Z", now_ms=NOW) == TimeRange(
        YEAR_1, END_OF_9999
    )
    assert time_range("1969-07-20T20:17:40Z", None, now_ms=NOW).start_ms == utc_ms(
        1969, 7, 20, 20, 17, 40
    )
    year_1_ago = f"{NOW - YEAR_1}ms-ago"
    assert time_range(year_1_ago, None, now_ms=NOW).start_ms == YEAR_1


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
    with pytest.raises(InvalidInput) as caught:
        time_range(start, end, now_ms=NOW)
    assert caught.value.field == field
    given = start if field == "start" else end
    assert caught.value.message == f"{field}: {given!r} is outside the years 1 to 9999"
