"""TelemetryService.ingest_many: readings of several devices in one call (MQTT batches)."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Account
from thingport.bus.events import SeriesInfo, TelemetryReceived
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.devices.service import DeviceRef
from thingport.core.telemetry.schemas import Reading
from thingport.kit.errors import InvalidInput
from thingport.platform import Platform


async def _devices(platform: Platform, owner: Account, *keys: str) -> list[DeviceRef]:
    async with platform.core() as core:
        for key in keys:
            await core.devices.create(owner.principal, DeviceCreate(key=key))
        found, refused = await core.devices.resolve_many(owner.principal, list(keys))
    assert not refused
    return [found[key] for key in keys]


async def test_new_series_of_several_devices_and_one_event_each(
    platform: Platform, alice: Account
) -> None:
    one, two = await _devices(platform, alice, "D1", "D2")
    subscription = platform.bus.subscribe(event_types=[TelemetryReceived])
    events = subscription.__aiter__()
    async with platform.core() as core:
        count = await core.telemetry.ingest_many(
            [
                (one, [Reading("x", 1.0, 1000), Reading("x", 2.0, 2000)]),
                (two, [Reading("y", 3.0, 1000, name="Why", unit="m")]),
            ]
        )
    assert count == 3
    received = [await asyncio.wait_for(events.__anext__(), 5) for _ in range(2)]
    await subscription.close()
    assert all(isinstance(e, TelemetryReceived) for e in received)
    assert [(e.device_id, e.device_key) for e in received] == [(one.id, "D1"), (two.id, "D2")]
    async with platform.core() as core:
        series = await core.telemetry.series_of_devices([one.id, two.id])
    (x,), (y,) = series[one.id], series[two.id]
    assert [e.series for e in received if isinstance(e, TelemetryReceived)] == [
        (SeriesInfo(x.id, "x", "x", x.uuid),),
        (SeriesInfo(y.id, "y", "Why", y.uuid),),
    ]
    assert [e.points for e in received if isinstance(e, TelemetryReceived)] == [
        [(x.id, 1000, 1.0), (x.id, 2000, 2.0)],
        [(y.id, 1000, 3.0)],
    ]
    # Only the (device, key) pairs that were sent: no "y" for D1, no "x" for D2.
    assert [(s.key, s.last_value, s.last_ts) for s in series[one.id]] == [("x", 2.0, 2000)]
    assert [(s.key, s.name, s.unit, s.last_value) for s in series[two.id]] == [
        ("y", "Why", "m", 3.0)
    ]


async def test_one_bad_reading_refuses_the_whole_call(platform: Platform, alice: Account) -> None:
    one, two = await _devices(platform, alice, "D1", "D2")
    with pytest.raises(InvalidInput, match="finite"):
        async with platform.core() as core:
            await core.telemetry.ingest_many(
                [(one, [Reading("x", 1.0, 1000)]), (two, [Reading("y", float("nan"), 1000)])]
            )
    with pytest.raises(InvalidInput, match="no readings"):
        async with platform.core() as core:
            await core.telemetry.ingest_many([(one, [Reading("x", 1.0, 1000)]), (two, [])])
    async with platform.core() as core:
        series = await core.telemetry.series_of_devices([one.id, two.id])
    assert series == {one.id: [], two.id: []}
