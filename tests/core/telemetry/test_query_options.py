"""Query options: raw sample counts."""

from __future__ import annotations

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.query import Aggregator, Downsample, TimeRange
from thingport.core.telemetry.schemas import Reading
from thingport.platform import Platform

MINUTE, HOUR = 60_000, 3_600_000


async def test_sample_size_counts_the_raw_points_in_the_range(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="d"))
        # 10 points a minute apart on "a", 3 on "b"; the range below holds a's 2..7.
        await core.telemetry.ingest(
            alice.principal,
            "d",
            [Reading("a", float(i), 1_000_000 + i * MINUTE) for i in range(10)]
            + [Reading("b", 1.0, 1_000_000 + i * MINUTE) for i in range(3)],
        )
    async with platform.core() as core:
        result = await core.telemetry.query(
            alice.principal,
            "d",
            time_range=TimeRange(1_000_000 + 2 * MINUTE, 1_000_000 + 7 * MINUTE),
            downsample=Downsample(HOUR, Aggregator.AVG),
            count_samples=True,
        )
        plain = await core.telemetry.query(
            alice.principal,
            "d",
            time_range=TimeRange(1_000_000, 1_000_000 + 10 * MINUTE),
            downsample=Downsample(HOUR, Aggregator.COUNT),
        )
    counts = {r.series.key: r.sample_size for r in result.results}
    assert counts == {"a": 6, "b": 1}
    assert result.time_range.start_ms == 1_000_000 + 2 * MINUTE
    assert all(r.sample_size is None for r in plain.results)
