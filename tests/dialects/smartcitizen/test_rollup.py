"""SmartCitizen's rollup spelling (`M` a month, `m` a minute) parsed into the core's typed
downsampling; expected values written out by hand."""

from __future__ import annotations

import pytest

from thingport.core.telemetry.query import Aggregator, Downsample, Fill
from thingport.dialects.smartcitizen.rollup import FUNCTIONS, ROLLUP, downsample, duration_ms
from thingport.kit.errors import InvalidInput

MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1M", 30 * DAY),
        ("3M", 90 * DAY),
        ("2m", 2 * MINUTE),
        ("5ms", 5),
        ("7s", 7_000),
        ("1h", HOUR),
        ("1d", DAY),
        ("1y", 365 * DAY),
        ("1w", 7 * DAY),
    ],
)
def test_units(text: str, expected: int) -> None:
    assert ROLLUP.fullmatch(text)
    assert duration_ms(text) == expected


@pytest.mark.parametrize("text", ["1n", "1H", "0h", "h", "1h-avg", " 1h", "1.5h", "-1h"])
def test_other_spellings_are_not_rollups(text: str) -> None:
    assert ROLLUP.fullmatch(text) is None
    with pytest.raises(ValueError, match="not a SmartCitizen rollup"):
        duration_ms(text)


def test_every_function_is_a_core_aggregator() -> None:
    for function in FUNCTIONS:
        assert downsample("1h", function, all_intervals=False).aggregator is Aggregator(function)


def test_downsample() -> None:
    assert downsample("1M", "max", all_intervals=False) == Downsample(
        30 * DAY, Aggregator.MAX, Fill.NONE
    )
    # all_intervals: every bucket of the range, empty ones as null.
    assert downsample("10m", "avg", all_intervals=True) == Downsample(
        10 * MINUTE, Aggregator.AVG, Fill.NULL
    )


@pytest.mark.parametrize(
    ("all_intervals", "message"),
    [
        (False, "rollup '10001y-avg': the interval '10001y' is longer than 10000y"),
        (True, "rollup '10001y-avg-null': the interval '10001y' is longer than 10000y"),
    ],
)
def test_interval_limit_message_is_unchanged(all_intervals: bool, message: str) -> None:
    longest = downsample("10000y", "avg", all_intervals=all_intervals)
    assert longest.interval_ms == 10_000 * 365 * DAY
    with pytest.raises(InvalidInput) as caught:
        downsample("10001y", "avg", all_intervals=all_intervals)
    assert caught.value.message == message
    assert caught.value.field == "rollup"
