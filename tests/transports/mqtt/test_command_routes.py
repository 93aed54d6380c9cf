"""Which convention a command goes out in, and what happens when that convention cannot carry
it: refused when the command is created if the device's route is known then, else failed at
once by the transport (never left pending until it expires)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.conftest import Account
from thingport.core.commands.schemas import CommandDelivery
from thingport.core.devices.schemas import DeviceCreate
from thingport.kit.errors import InvalidInput
from thingport.platform import Platform
from thingport.transports.mqtt.codec import CodecError
from thingport.transports.mqtt.embedded import EmbeddedBroker
from thingport.transports.mqtt.routes import CommandRoutes


def delivery(channel: str | None, gateway: str | None = None) -> CommandDelivery:
    return CommandDelivery("c1", 1, "D1", channel, 1, gateway=gateway)


def test_routes_follow_traffic_then_the_parent() -> None:
    routes = CommandRoutes()
    assert routes.encode(delivery("x"))[0] == "thingport/v1/devices/D1/commands"
    assert routes.encode(delivery("x", "GW"))[0] == "thingport/v1/gateways/GW/devices/D1/commands"
    routes.learn("D1", "native")  # heard on its own: that wins over its parent
    assert routes.encode(delivery("x", "GW"))[0] == "thingport/v1/devices/D1/commands"
    routes.learn("D1", "gateway")
    assert routes.encode(delivery("x", "GW"))[0] == "thingport/v1/gateways/GW/devices/D1/commands"
    # Detached from its gateway since: the native topic, not a gateway it no longer has.
    assert routes.encode(delivery("x"))[0] == "thingport/v1/devices/D1/commands"
    routes.learn("D1", "cayenne", "user-1")
    assert routes.encode(delivery("3")) == ("v1/user-1/things/D1/cmd/3", b"c1,1")


def test_a_cayenne_device_refuses_a_channel_that_is_not_a_number() -> None:
    routes = CommandRoutes()
    routes.learn("D1", "cayenne", "user-1")
    with pytest.raises(CodecError, match="channel"):
        routes.encode(delivery("relay"))
    with pytest.raises(InvalidInput, match="cayenne MQTT convention") as refused:
        routes.check(delivery("relay"))
    assert refused.value.field == "channel"
    routes.check(delivery("7"))


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


async def test_a_command_a_known_cayenne_device_cannot_take_is_refused_and_not_recorded(
    platform: Platform, alice: Account, embedded: EmbeddedBroker
) -> None:
    key = await _device(platform, alice)
    embedded.routes.learn(key, "cayenne", "user-1")
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
    embedded.routes.learn(key, "cayenne", "user-1")
    await embedded.dispatch(CommandDelivery(command.id, 0, key, "relay", 1))
    async with platform.core() as core:
        failed = await core.commands.get(alice.principal, command.id)
    assert failed.state == "failed"
    assert failed.error is not None
    assert "cannot be sent over MQTT" in failed.error
    assert "channel" in failed.error
