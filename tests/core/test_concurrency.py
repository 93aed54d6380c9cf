"""Several writers at once, as a busy server sees them."""

from __future__ import annotations

import asyncio

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.query import Aggregator, Downsample, TimeRange
from thingport.core.telemetry.schemas import Reading
from thingport.platform import Platform


async def test_concurrent_first_readings_of_a_new_metric(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="RACE"))

    async def send(offset: int) -> int:
        async with platform.core() as core:
            ref = await core.devices.resolve(alice.principal, "RACE")
            readings = [Reading(key="brand-new", value=float(offset), ts_ms=1_000_000 + offset)]
            return await core.telemetry.ingest_for(ref, readings)

    assert await asyncio.gather(*(send(i) for i in range(8))) == [1] * 8
    async with platform.core() as core:
        ref = await core.devices.resolve(alice.principal, "RACE")
        series = (await core.telemetry.series_of_devices([ref.id]))[ref.id]
        result = await core.telemetry.query(
            alice.principal,
            "RACE",
            time_range=TimeRange(0, 2_000_000_000),
            downsample=Downsample(3_600_000, Aggregator.COUNT),
        )
    assert [s.key for s in series] == ["brand-new"]
    assert series[0].last_value == 7.0
    assert result.results[0].points == [(0, 8.0)]
