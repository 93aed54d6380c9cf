"""SmartCitizen's rollup spelling (`M` a month, `m` a minute) parsed into the core's typed
downsampling; expected values written out by hand. Last, the core's limits as clients see them."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.query import Aggregator, Downsample, Fill
from thingport.core.telemetry.schemas import Reading
from thingport.dialects.smartcitizen.rollup import FUNCTIONS, ROLLUP, downsample, duration_ms
from thingport.kit.errors import InvalidInput
from thingport.platform import Platform

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


async def test_core_limits_through_get_readings(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    """The limits the core checks reach clients with the same messages as before the core took
    typed values (they apply only once the sensor has readings, as before)."""
    async with platform.core() as core:
        device = await core.devices.create(alice.principal, DeviceCreate(public=True))
        await core.telemetry.ingest(alice.principal, device.key, [Reading("55", 1.0, 10**12)])
    window = {"sensor_id": "55", "from": "2001-09-09", "to": "2001-09-10"}
    cases: list[tuple[dict[str, str], str]] = [
        ({"rollup": "10001y"}, "rollup '10001y-avg': the interval '10001y' is longer than 10000y"),
        (
            {"rollup": "10001y", "function": "max", "all_intervals": "true"},
            "rollup '10001y-max-null': the interval '10001y' is longer than 10000y",
        ),
        (
            {"rollup": "1ms", "all_intervals": "true"},
            "86400001 buckets requested with a fill policy; at most 100000 "
            "(use a longer interval or a shorter range)",
        ),
    ]
    for params, message in cases:
        response = await client.get(
            f"/smartcitizen/v0/devices/{device.id}/readings", params=window | params
        )
        assert response.status_code == 400, response.text
        assert response.json() == {"id": "bad_request", "message": message, "url": "", "errors": ""}
    fine = await client.get(
        f"/smartcitizen/v0/devices/{device.id}/readings", params=window | {"rollup": "1d"}
    )
    assert fine.json()["readings"] == [["2001-09-09T00:00:00Z", 1.0]]
