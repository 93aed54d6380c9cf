"""core/live: typed events of the devices a principal may read, checked once at subscription."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest

from tests.conftest import Account, make_account
from thingport.bus.codec import decode, encode
from thingport.bus.events import (
    CommandUpdated,
    DeviceDeleted,
    DeviceUpdated,
    Event,
    SeriesInfo,
    TelemetryReceived,
)
from thingport.bus.memory import MemoryBus
from thingport.core.devices.schemas import DeviceCreate, DeviceUpdate
from thingport.core.live.schemas import LiveFilter
from thingport.core.live.subscription import LiveSubscription
from thingport.core.telemetry.schemas import Reading
from thingport.kit.errors import InvalidInput, NotFound
from thingport.platform import Platform
from thingport.settings import Settings

TIMEOUT = 5


async def _next(live: LiveSubscription, count: int) -> list[Event]:
    """The next `count` events; fewer only if the subscription ends first."""
    received: list[Event] = []

    async def collect() -> None:
        async for event in live:
            received.append(event)
            if len(received) == count:
                return

    await asyncio.wait_for(collect(), TIMEOUT)
    return received


async def _create(platform: Platform, owner: Account, key: str, *, public: bool = False) -> int:
    async with platform.core() as core:
        return (await core.devices.create(owner.principal, DeviceCreate(key=key, public=public))).id


async def _ingest(platform: Platform, owner: Account, key: str, value: float) -> None:
    async with platform.core() as core:
        await core.telemetry.ingest(owner.principal, key, [Reading("t", value, 1000)])


async def test_typed_events_of_own_devices_after_the_transaction(
    platform: Platform, alice: Account
) -> None:
    one = await _create(platform, alice, "ONE")
    await _create(platform, alice, "OTHER")
    async with platform.core() as core:
        live = await core.live.subscribe(alice.principal, LiveFilter.of("ONE"))
    # The transaction that checked access is over; events keep coming.
    await _ingest(platform, alice, "OTHER", 0.5)  # not subscribed: filtered out
    await _ingest(platform, alice, "ONE", 1.5)
    async with platform.core() as core:
        await core.devices.update(alice.principal, "ONE", DeviceUpdate(name="n", public=True))
        sent = await core.commands.send(alice.principal, "ONE", payload=1)
    async with platform.core() as core:
        device = await core.devices.resolve(alice.principal, "ONE", change=True)
        await core.commands.answer(device, sent.id, ok=True)
    try:
        telemetry, updated, command = await _next(live, 3)
    finally:
        await live.close()
    assert isinstance(telemetry, TelemetryReceived)
    assert (telemetry.device_id, telemetry.device_key) == (one, "ONE")
    (series,) = telemetry.series
    assert series == SeriesInfo(series.id, "t", "t", series.uuid)
    assert list(telemetry.points) == [(series.id, 1000, 1.5)]
    assert updated == DeviceUpdated(one, "ONE", ("name", "public"))
    assert command == CommandUpdated(one, "ONE", sent.id, "answered")


async def test_filter_by_event_class_and_several_devices(
    platform: Platform, alice: Account
) -> None:
    a = await _create(platform, alice, "A")
    b = await _create(platform, alice, "B")
    async with platform.core() as core:
        live = await core.live.subscribe(
            alice.principal, LiveFilter.of("A", "B", "A", event_types=[TelemetryReceived])
        )
    assert [d.key for d in live.devices] == ["A", "B"]
    async with platform.core() as core:
        await core.devices.update(alice.principal, "A", DeviceUpdate(name="skipped"))
    await _ingest(platform, alice, "B", 2.0)
    await _ingest(platform, alice, "A", 1.0)
    try:
        received = await _next(live, 2)
    finally:
        await live.close()
    assert [(type(e), e.device_id) for e in received] == [
        (TelemetryReceived, b),
        (TelemetryReceived, a),
    ]


async def test_another_tenants_device_is_not_found_like_a_missing_one(
    platform: Platform, alice: Account, bob: Account
) -> None:
    await _create(platform, alice, "PRIVATE")
    await _create(platform, bob, "BOBS")
    async with platform.core() as core:
        with pytest.raises(NotFound) as hidden:
            await core.live.subscribe(bob.principal, LiveFilter.of("PRIVATE"))
        with pytest.raises(NotFound) as missing:
            await core.live.subscribe(bob.principal, LiveFilter.of("NOSUCH"))
        # One refused device refuses the whole subscription.
        with pytest.raises(NotFound):
            await core.live.subscribe(bob.principal, LiveFilter.of("BOBS", "PRIVATE"))
    assert hidden.value.field == missing.value.field == "device_id"
    assert hidden.value.message.replace("PRIVATE", "X") == missing.value.message.replace(
        "NOSUCH", "X"
    )
    assert _subscribers(platform) == 0  # the refusals left nothing subscribed


def _subscribers(platform: Platform) -> int:
    assert isinstance(platform.bus, MemoryBus)
    return platform.bus.subscriber_count


async def test_anonymous_callers_see_public_devices_only(
    platform: Platform, alice: Account
) -> None:
    await _create(platform, alice, "PRIVATE")
    public = await _create(platform, alice, "PUBLIC", public=True)
    async with platform.core() as core:
        with pytest.raises(NotFound):
            await core.live.subscribe(None, LiveFilter.of("PRIVATE"))
        live = await core.live.subscribe(None, LiveFilter.of("PUBLIC"))
    await _ingest(platform, alice, "PUBLIC", 3.0)
    try:
        (event,) = await _next(live, 1)
    finally:
        await live.close()
    assert isinstance(event, TelemetryReceived)
    assert event.device_id == public


async def test_a_subscription_names_a_device(platform: Platform) -> None:
    async with platform.core() as core:
        with pytest.raises(InvalidInput, match="names at least one device") as caught:
            await core.live.subscribe(None, LiveFilter.of())
    assert caught.value.field == "device_id"
    assert _subscribers(platform) == 0


async def test_deleting_the_device_ends_the_subscription(
    platform: Platform, alice: Account, bob: Account
) -> None:
    """Its id may be handed to the next device (SQLite reuses the highest id), which may be
    another tenant's: nothing under that id reaches the old subscriber."""
    gone = await _create(platform, alice, "GONE")
    async with platform.core() as core:
        live = await core.live.subscribe(
            alice.principal, LiveFilter.of("GONE", event_types=[TelemetryReceived])
        )
    await _ingest(platform, alice, "GONE", 1.0)
    async with platform.core() as core:
        await core.delete_device(alice.principal, "GONE")
    await _create(platform, bob, "SUCCESSOR")
    await _ingest(platform, bob, "SUCCESSOR", 666.0)
    # Asks for more than can come: returns because the deletion ended the subscription (an
    # open one would time out here), with nothing of bob's in it.
    received = await _next(live, 3)
    assert [type(e) for e in received] == [TelemetryReceived]  # DeviceDeleted was not asked for
    assert received[0].device_id == gone
    assert _subscribers(platform) == 0


async def test_deletion_is_delivered_when_asked_for_and_other_devices_go_on(
    platform: Platform, alice: Account
) -> None:
    gone = await _create(platform, alice, "GONE")
    kept = await _create(platform, alice, "KEPT")
    async with platform.core() as core:
        live = await core.live.subscribe(
            alice.principal,
            LiveFilter.of("GONE", "KEPT", event_types=[TelemetryReceived, DeviceDeleted]),
        )
    async with platform.core() as core:
        await core.delete_device(alice.principal, "GONE")
    await _ingest(platform, alice, "KEPT", 1.0)
    try:
        received = await _next(live, 2)
    finally:
        await live.close()
    assert received[0] == DeviceDeleted(gone, "GONE")
    assert isinstance(received[1], TelemetryReceived)
    assert received[1].device_id == kept


async def test_expired_commands_reach_live_subscribers(platform: Platform, alice: Account) -> None:
    device = await _create(platform, alice, "RELAY")
    async with platform.core() as core:
        due = await core.commands.send(
            alice.principal, "RELAY", payload=1, ttl=timedelta(milliseconds=1)
        )
        await core.commands.send(alice.principal, "RELAY", payload=2)  # not due
    async with platform.core() as core:
        live = await core.live.subscribe(
            alice.principal, LiveFilter.of("RELAY", event_types=[CommandUpdated])
        )
    async with platform.core() as core:
        assert await core.commands.expire_due() == 1
    try:
        (event,) = await _next(live, 1)
    finally:
        await live.close()
    assert event == CommandUpdated(device, "RELAY", due.id, "expired")


class CodecBus(MemoryBus):
    """An in-process bus that carries every event as codec bytes, as a networked one would."""

    async def publish(self, events: Sequence[Event]) -> None:
        await super().publish([decode(encode(event)) for event in events])


@pytest.fixture
async def wire_platform(settings: Settings) -> AsyncIterator[Platform]:
    running = Platform(settings, bus=CodecBus())
    try:
        yield running
    finally:
        await running.close()


async def test_live_events_survive_the_wire_format(wire_platform: Platform) -> None:
    carol = await make_account(wire_platform, "carol")
    device = await _create(wire_platform, carol, "WIRED")
    async with wire_platform.core() as core:
        live = await core.live.subscribe(
            carol.principal, LiveFilter.of("WIRED", event_types=[TelemetryReceived, DeviceDeleted])
        )
    async with wire_platform.core() as core:
        await core.telemetry.ingest(
            carol.principal, "WIRED", [Reading("t", 1.0, 1000), Reading("t", 2.0, 2000)]
        )
    async with wire_platform.core() as core:
        await core.delete_device(carol.principal, "WIRED")
    telemetry, deleted = await _next(live, 3)
    assert isinstance(telemetry, TelemetryReceived)
    (series,) = telemetry.series
    assert list(telemetry.points) == [(series.id, 1000, 1.0), (series.id, 2000, 2.0)]
    assert deleted == DeviceDeleted(device, "WIRED")
