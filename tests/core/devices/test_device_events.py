"""The devices service announces creations, updates and deletions, after commit only."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Account
from thingport.bus.events import DeviceCreated, DeviceDeleted, DeviceUpdated, Event
from thingport.bus.protocol import Subscription
from thingport.core.devices.schemas import DeviceCreate, DeviceUpdate
from thingport.platform import Platform


async def _next(subscription: Subscription, count: int) -> list[Event]:
    received: list[Event] = []

    async def collect() -> None:
        async for event in subscription:
            received.append(event)
            if len(received) == count:
                return

    await asyncio.wait_for(collect(), 5)
    return received


async def test_create_update_delete_are_announced_in_order(
    platform: Platform, alice: Account
) -> None:
    events = platform.bus.subscribe(event_types=[DeviceCreated, DeviceUpdated, DeviceDeleted])
    async with platform.core() as core:
        created = await core.devices.create(alice.principal, DeviceCreate(key="EV"))
    async with platform.core() as core:
        await core.devices.update(
            alice.principal, "EV", DeviceUpdate(public=True, name="n", description=None)
        )
        ref = await core.devices.resolve(alice.principal, "EV", change=True)
        await core.devices.merge_properties(ref, {"firmware": "2"})
    async with platform.core() as core:
        await core.delete_device(alice.principal, "EV")
    try:
        received = await _next(events, 4)
    finally:
        await events.close()
    assert received == [
        DeviceCreated(created.id, "EV", owner_id=alice.principal.user_id),
        DeviceUpdated(created.id, "EV", ("description", "name", "public")),
        DeviceUpdated(created.id, "EV", ("properties",)),
        DeviceDeleted(created.id, "EV"),
    ]


async def test_rolled_back_changes_are_never_announced(platform: Platform, alice: Account) -> None:
    events = platform.bus.subscribe(event_types=[DeviceCreated, DeviceUpdated, DeviceDeleted])
    with pytest.raises(RuntimeError):
        async with platform.core() as core:
            await core.devices.create(alice.principal, DeviceCreate(key="NEVER"))
            raise RuntimeError("rolled back")
    async with platform.core() as core:
        kept = await core.devices.create(alice.principal, DeviceCreate(key="KEPT"))
    try:
        # Events of one subscriber arrive in publish order: the first is the kept one.
        (first,) = await _next(events, 1)
    finally:
        await events.close()
    assert first == DeviceCreated(kept.id, "KEPT", owner_id=alice.principal.user_id)
