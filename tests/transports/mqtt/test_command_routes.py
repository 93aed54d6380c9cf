"""Which convention a command goes out in, and what happens when that convention cannot carry
it: refused when the command is created if the device's route is known then, else failed at
once by the transport (never left pending until it expires). Routes live on the device's row,
so a worker addresses a device that only another worker has heard."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Account
from tests.transports.mqtt.test_embedded import TIMEOUT, Device
from thingport.core.commands.schemas import CommandDelivery
from thingport.core.commands.service import STALE_CLAIM
from thingport.core.devices.repository import DevicesRepository
from thingport.core.devices.schemas import DeviceCreate, HeardRoute
from thingport.kit.errors import InvalidInput
from thingport.platform import Platform
from thingport.settings import Settings
from thingport.transports.mqtt import routes
from thingport.transports.mqtt.codec import ClientIdentity, CodecError
from thingport.transports.mqtt.codecs.registry import codec_for
from thingport.transports.mqtt.embedded import EmbeddedBroker
from thingport.transports.mqtt.inbound import InboundHandler


def delivery(
    channel: str | None,
    gateway: str | None = None,
    convention: str | None = None,
    username: str | None = None,
) -> CommandDelivery:
    return CommandDelivery(
        "c1", 1, "D1", channel, 1, gateway=gateway, convention=convention, username=username
    )


def test_routes_follow_traffic_then_the_parent() -> None:
    assert routes.encode(delivery("x"))[0] == "thingport/v1/devices/D1/commands"
    assert routes.encode(delivery("x", "GW"))[0] == "thingport/v1/gateways/GW/devices/D1/commands"
    # heard on its own: that wins over its parent
    native = routes.encode(delivery("x", "GW", "native"))
    assert native[0] == "thingport/v1/devices/D1/commands"
    via = routes.encode(delivery("x", "GW", "gateway"))
    assert via[0] == "thingport/v1/gateways/GW/devices/D1/commands"
    # Detached from its gateway since: the native topic, not a gateway it no longer has.
    assert routes.encode(delivery("x", None, "gateway"))[0] == "thingport/v1/devices/D1/commands"
    cayenne = delivery("3", None, "cayenne", "user-1")
    assert routes.encode(cayenne) == ("v1/user-1/things/D1/cmd/3", b"c1,1")


def test_a_cayenne_device_refuses_a_channel_that_is_not_a_number() -> None:
    with pytest.raises(CodecError, match="channel"):
        routes.encode(delivery("relay", None, "cayenne", "user-1"))
    with pytest.raises(InvalidInput, match="cayenne MQTT convention") as refused:
        routes.check(delivery("relay", None, "cayenne", "user-1"))
    assert refused.value.field == "channel"
    routes.check(delivery("7", None, "cayenne", "user-1"))


@pytest.fixture
async def embedded(platform: Platform) -> AsyncIterator[EmbeddedBroker]:
    broker = EmbeddedBroker(platform, port=0)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def _device(platform: Platform, owner: Account) -> str:
    key = f"CR-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(owner.principal, DeviceCreate(key=key))
    return key


async def _heard_as_cayenne(platform: Platform, owner: Account, key: str) -> None:
    async with platform.core() as core:
        device = await core.devices.resolve(owner.principal, key, change=True)
        await core.devices.record_routes({device.id: HeardRoute("cayenne", "user-1")})


async def test_a_command_a_known_cayenne_device_cannot_take_is_refused_and_not_recorded(
    platform: Platform, alice: Account, embedded: EmbeddedBroker
) -> None:
    key = await _device(platform, alice)
    await _heard_as_cayenne(platform, alice, key)
    with pytest.raises(InvalidInput, match="not a number"):
        async with platform.core() as core:
            await core.commands.send(alice.principal, key, channel="relay", payload=1)
    async with platform.core() as core:
        assert await core.commands.for_device(alice.principal, key) == []
        accepted = await core.commands.send(alice.principal, key, channel="2", payload=1)
    assert accepted.channel == "2"


async def test_a_route_learnt_after_the_command_fails_it_at_once(
    platform: Platform, alice: Account, embedded: EmbeddedBroker
) -> None:
    key = await _device(platform, alice)
    # Recorded while the device was known as native (no dispatcher saw it yet) ...
    platform.command_dispatchers.remove(embedded)
    try:
        async with platform.core() as core:
            command = await core.commands.send(alice.principal, key, channel="relay", payload=1)
    finally:
        platform.command_dispatchers.append(embedded)
    # ... and it then turned out to speak Cayenne before the command went out.
    await _heard_as_cayenne(platform, alice, key)
    await embedded.dispatch(
        CommandDelivery(command.id, 0, key, "relay", 1, convention="cayenne", username="user-1")
    )
    async with platform.core() as core:
        failed = await core.commands.get(alice.principal, command.id)
    assert failed.state == "failed"
    assert failed.error is not None
    assert "cannot be sent over MQTT" in failed.error
    assert "channel" in failed.error


async def _hear(platform: Platform, owner: Account, topic: str, payload: bytes) -> None:
    """One publish stored as the embedded broker stores it (the client is the device)."""
    key = topic.split("/")[3]
    username = topic.split("/")[1] if topic.startswith("v1/") else owner.principal.username
    client = ClientIdentity(client_id=key, username=username)
    outcome = await InboundHandler(platform, codec_for).handle(
        client, owner.principal, topic, payload
    )
    assert outcome.stored, outcome.reason


async def _stored_route(platform: Platform, owner: Account, key: str) -> CommandDelivery:
    async with platform.core() as core:
        device = await core.devices.resolve(owner.principal, key)
        gateway, route = await core.devices.command_path(device)
    return CommandDelivery(
        "c1",
        device.id,
        key,
        "1",
        1,
        gateway=gateway,
        convention=route.convention if route else None,
        username=route.username if route else None,
    )


async def test_the_route_is_kept_on_the_device_and_written_only_when_it_changes(
    platform: Platform, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await _device(platform, alice)
    writes: list[Sequence[tuple[int, str, str | None]]] = []
    original = DevicesRepository.set_routes

    async def counted(self: DevicesRepository, rows: Sequence[tuple[int, str, str | None]]) -> None:
        if rows:
            writes.append(rows)
        await original(self, rows)

    monkeypatch.setattr(DevicesRepository, "set_routes", counted)
    assert (await _stored_route(platform, alice, key)).convention is None
    await _hear(platform, alice, f"v1/user-1/things/{key}/data/1", b"temp,c=20.5")
    await _hear(platform, alice, f"v1/user-1/things/{key}/data/1", b"temp,c=20.6")
    await _hear(platform, alice, f"v1/user-1/things/{key}/data/2", b"lum,lux=300")
    assert len(writes) == 1  # the same route again writes nothing
    stored = await _stored_route(platform, alice, key)
    assert (stored.convention, stored.username) == ("cayenne", "user-1")
    await _hear(platform, alice, f"thingport/v1/devices/{key}/telemetry", b'{"t": 1}')
    assert len(writes) == 2
    assert routes.encode(await _stored_route(platform, alice, key))[0] == (
        f"thingport/v1/devices/{key}/commands"
    )


async def test_a_command_recorded_by_another_worker_takes_the_route_this_one_heard(
    platform: Platform, alice: Account, settings: Settings
) -> None:
    """Two platforms on one database: A hears the device speak Cayenne; B, which never heard
    it, refuses a channel Cayenne cannot carry and addresses the command in Cayenne."""
    key = await _device(platform, alice)
    await _hear(platform, alice, f"v1/user-1/things/{key}/data/1", b"temp,c=20.5")
    other = Platform(settings)
    other.command_dispatchers.append(routes.CommandCheck())
    try:
        with pytest.raises(InvalidInput, match="not a number"):
            async with other.core() as core:
                await core.commands.send(alice.principal, key, channel="relay", payload=1)
        async with other.core() as core:
            accepted = await core.commands.send(alice.principal, key, channel="2", payload=1)
            [waiting] = await core.commands.unclaimed()
    finally:
        await other.close()
    assert waiting.command_id == accepted.id
    assert routes.encode(waiting) == (f"v1/user-1/things/{key}/cmd/2", f"{accepted.id},1".encode())


async def test_only_one_worker_claims_a_command(platform: Platform, alice: Account) -> None:
    key = await _device(platform, alice)
    async with platform.core() as core:
        command = await core.commands.send(alice.principal, key, channel="relay", payload=1)
    async with platform.core() as core:
        assert await core.commands.claim(command.id, "worker-a")
    async with platform.core() as core:
        assert not await core.commands.claim(command.id, "worker-b")
        assert await core.commands.unclaimed() == []


async def test_a_command_that_did_not_go_out_is_given_back_and_published_later(
    platform: Platform, alice: Account
) -> None:
    """A publish that fails (the broker refused it) leaves the command pending and unclaimed,
    so the next look for unclaimed commands publishes it; a claim alone is no delivery."""
    key = await _device(platform, alice)
    async with platform.core() as core:
        command = await core.commands.send(alice.principal, key, channel="relay", payload=1)
        [waiting] = await core.commands.unclaimed()
    published: list[tuple[str, bytes]] = []

    async def broker_down(topic: str, payload: bytes) -> bool:
        return False

    async def broker_up(topic: str, payload: bytes) -> bool:
        published.append((topic, payload))
        return True

    await routes.dispatch(platform, waiting, broker_down)
    async with platform.core() as core:
        assert (await core.commands.get(alice.principal, command.id)).state == "pending"
        [again] = await core.commands.unclaimed()
    assert again.command_id == command.id
    await routes.dispatch(platform, again, broker_up)
    assert [topic for topic, _ in published] == [f"thingport/v1/devices/{key}/commands"]
    async with platform.core() as core:
        assert (await core.commands.get(alice.principal, command.id)).state == "sent"
        assert await core.commands.unclaimed() == []


async def test_a_claim_left_by_a_dead_worker_lapses_and_another_publishes(
    platform: Platform, alice: Account
) -> None:
    """Worker A claims a command and dies before publishing it: the claim holds for a while
    (nobody publishes it twice meanwhile), then lapses, and the command is published by B."""
    key = await _device(platform, alice)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    platform.clock = lambda: start
    async with platform.core() as core:
        command = await core.commands.send(alice.principal, key, channel="relay", payload=1)
        assert await core.commands.claim(command.id, "worker-a")  # ... and A is gone
    platform.clock = lambda: start + STALE_CLAIM - timedelta(seconds=1)
    async with platform.core() as core:
        assert await core.commands.unclaimed() == []
        assert not await core.commands.claim(command.id, "worker-b")
    platform.clock = lambda: start + STALE_CLAIM + timedelta(seconds=1)
    async with platform.core() as core:
        [lapsed] = await core.commands.unclaimed()
        assert lapsed.command_id == command.id
        assert await core.commands.claim(command.id, "worker-b")
        assert not await core.commands.claim(command.id, "worker-c")  # B's claim is fresh


async def test_a_dashboard_following_a_device_leaves_its_route_alone(
    platform: Platform, alice: Account, embedded: EmbeddedBroker
) -> None:
    """Only a subscription to the command topic itself shows how a device takes commands: the
    owner's dashboard following `thingport/v1/devices/KEY/#` must not turn a Cayenne device's
    stored route native for every worker. The device's own subscription still does."""
    key = await _device(platform, alice)
    await _heard_as_cayenne(platform, alice, key)
    dashboard = Device(embedded.port, f"dash-{uuid.uuid4().hex[:6]}", "alice", alice.token)
    assert await dashboard.connect() == "Success"
    try:
        dashboard.client.subscribe(f"thingport/v1/devices/{key}/#", qos=1)
        assert await asyncio.wait_for(dashboard.subacks.get(), TIMEOUT) == [1]
        assert (await _stored_route(platform, alice, key)).convention == "cayenne"
        dashboard.client.subscribe(f"thingport/v1/devices/{key}/commands", qos=1)
        assert await asyncio.wait_for(dashboard.subacks.get(), TIMEOUT) == [1]
        assert (await _stored_route(platform, alice, key)).convention == "native"
    finally:
        await dashboard.close()
