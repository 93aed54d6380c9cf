"""Presence from retained status messages and Last Wills (TOPICS.md, presence).

Through the real Mosquitto, which tells a subscriber nothing about connections: a device that
dies without DISCONNECT is announced offline by its Will. On the embedded broker the session
itself says so, and a status message agrees with it without a second event.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Account
from tests.transports.mqtt.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from thingport.bus.events import DeviceConnected, DeviceDisconnected, Event
from thingport.bus.protocol import Subscription
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform
from thingport.transports.mqtt.bridge import ExternalBroker
from thingport.transports.mqtt.codec import ClientIdentity
from thingport.transports.mqtt.codecs.registry import codec_for
from thingport.transports.mqtt.embedded import EmbeddedBroker
from thingport.transports.mqtt.inbound import InboundHandler, Received

TIMEOUT = 10
CLIENT = ClientIdentity(client_id="c1", username="alice")


async def _create(platform: Platform, owner: Account, *, parent: str | None = None) -> str:
    key = f"PR-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(owner.principal, DeviceCreate(key=key, parent=parent))
    return key


async def _connected(platform: Platform, key: str) -> bool | None:
    async with platform.core() as core:
        row = await core.devices.repo.by_key(key)
        assert row is not None
        return row.connected


async def _wait_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(int(TIMEOUT / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def _events(
    subscription: Subscription, count: int
) -> list[tuple[type[Event], str, str | None]]:
    """The next `count` presence events, as (class, device key, gateway)."""
    seen: list[Event] = []

    async def collect() -> None:
        async for event in subscription:
            seen.append(event)
            if len(seen) == count:
                return

    await asyncio.wait_for(collect(), TIMEOUT)
    return [
        (type(e), e.device_key, e.gateway if isinstance(e, DeviceDisconnected) else None)
        for e in seen
    ]


@pytest.fixture
async def presence(platform: Platform) -> AsyncIterator[Subscription]:
    subscription = platform.bus.subscribe(event_types=[DeviceConnected, DeviceDisconnected])
    try:
        yield subscription
    finally:
        await subscription.close()


async def _kill(client: paho.Client) -> None:
    """Drop the connection the way a crash or a lost network does: no DISCONNECT packet, so
    the broker publishes the client's Will."""
    sock = client.socket()
    assert sock is not None
    # paho's network thread is stopped first so that it neither notices nor reconnects; off
    # the event loop, which may be serving the embedded broker paho's thread waits on.
    await asyncio.to_thread(client.loop_stop)
    sock.close()


# -- the inbound path (both broker modes call it) ----------------------------------------------


async def test_status_sets_presence_with_the_access_of_telemetry(
    platform: Platform, alice: Account, bob: Account, presence: Subscription
) -> None:
    key = await _create(platform, alice)
    other = await _create(platform, bob)
    handler = InboundHandler(platform, codec_for)

    def status(device: str, payload: bytes) -> Received:
        return Received(CLIENT, f"thingport/v1/devices/{device}/status", payload, alice.principal)

    outcomes = await handler.handle_batch(
        [status(key, b"online"), status(key, b"ONLINE"), status(other, b"online")]
    )
    assert [o.stored for o in outcomes] == [True, True, False]
    assert outcomes[2].reason is not None
    assert outcomes[2].reason.startswith("not_found")
    assert await _connected(platform, key) is True
    assert await _connected(platform, other) is None
    # A repeated status changes nothing and is not announced again.
    (outcome,) = await handler.handle_batch([status(key, b'{"online": false}')])
    assert outcome.stored
    assert await _events(presence, 2) == [
        (DeviceConnected, key, None),
        (DeviceDisconnected, key, None),
    ]
    # An empty status (a client clearing its retained message) is taken and changes nothing.
    (outcome,) = await handler.handle_batch([status(key, b"")])
    assert outcome.stored
    assert await _connected(platform, key) is False


# -- external broker: Mosquitto ------------------------------------------------------------------


async def test_a_killed_device_goes_offline_through_its_will_on_mosquitto(
    platform: Platform, alice: Account, bridge: ExternalBroker, presence: Subscription
) -> None:
    key = await _create(platform, alice)
    topic = f"thingport/v1/devices/{key}/status"
    device = paho.Client(CallbackAPIVersion.VERSION2, client_id=key)
    device.will_set(topic, b"offline", qos=1, retain=True)
    device.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
    device.loop_start()
    try:
        device.publish(topic, b"online", qos=1, retain=True).wait_for_publish(5)
        assert await _events(presence, 1) == [(DeviceConnected, key, None)]
        assert await _connected(platform, key) is True

        await _kill(device)
        assert await _events(presence, 1) == [(DeviceDisconnected, key, None)]
        assert await _connected(platform, key) is False
    finally:
        await asyncio.to_thread(device.loop_stop)
        # Leave no retained status behind on the shared broker (also: an empty status is
        # taken without a rejection).
        cleaner = paho.Client(CallbackAPIVersion.VERSION2)
        cleaner.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
        cleaner.loop_start()
        cleaner.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        cleaner.disconnect()
        cleaner.loop_stop()


# -- embedded broker -----------------------------------------------------------------------------


@pytest.fixture
async def embedded(platform: Platform) -> AsyncIterator[EmbeddedBroker]:
    broker = EmbeddedBroker(platform, port=0)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def test_a_killed_device_goes_offline_once_on_the_embedded_broker(
    platform: Platform, alice: Account, embedded: EmbeddedBroker, presence: Subscription
) -> None:
    key = await _create(platform, alice)
    topic = f"thingport/v1/devices/{key}/status"
    device = paho.Client(CallbackAPIVersion.VERSION2, client_id=key, protocol=paho.MQTTv311)
    device.username_pw_set("alice", alice.token)
    device.will_set(topic, b"offline", qos=1, retain=True)
    device.connect("127.0.0.1", embedded.port)
    device.loop_start()
    try:
        # The session says online; the device's own status then agrees and is no second event.
        # (Sent only after the session's event: two transactions racing from "unknown" could
        # each announce the change.)
        assert await _events(presence, 1) == [(DeviceConnected, key, None)]
        device.publish(topic, b"online", qos=1, retain=True).wait_for_publish(5)
        assert embedded.handler.rejected.total() == 0, embedded.handler.rejected
        assert device.is_connected(), embedded.refused

        await _kill(device)
        assert await _events(presence, 1) == [(DeviceDisconnected, key, None)]
        assert await _connected(platform, key) is False
    finally:
        await asyncio.to_thread(device.loop_stop)


# -- gateways: sub-device presence and commands through the gateway --------------------------


async def test_gateway_sub_device_commands_and_presence_through_mosquitto(
    platform: Platform, alice: Account, bridge: ExternalBroker, presence: Subscription
) -> None:
    gateway = await _create(platform, alice)
    sub = await _create(platform, alice, parent=gateway)
    root = f"thingport/v1/gateways/{gateway}"
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[paho.MQTTMessage] = asyncio.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=gateway)

    def on_message(_client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        loop.call_soon_threadsafe(commands.put_nowait, message)

    client.on_message = on_message
    client.will_set(f"{root}/status", b"offline", qos=1, retain=True)
    client.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
    client.loop_start()
    try:
        client.subscribe(f"{root}/devices/+/commands", qos=1)
        client.publish(f"{root}/status", b"online", qos=1, retain=True).wait_for_publish(5)
        client.publish(f"{root}/devices/{sub}/status", b"online", qos=1).wait_for_publish(5)
        assert [k for k, _, _ in await _events(presence, 2)] == [DeviceConnected] * 2
        assert await _connected(platform, sub) is True

        # The sub-device was never heard on its own: its parent makes it a gateway route.
        async with platform.core() as core:
            command = await core.commands.send(alice.principal, sub, channel="relay", payload=1)
        message = await asyncio.wait_for(commands.get(), TIMEOUT)
        assert message.topic == f"{root}/devices/{sub}/commands"
        assert orjson.loads(message.payload) == {"id": command.id, "channel": "relay", "payload": 1}
        answer = orjson.dumps({"id": command.id, "ok": True, "payload": {"relay": 1}})
        client.publish(f"{root}/devices/{sub}/responses", answer, qos=1).wait_for_publish(5)

        async def answered() -> bool:
            async with platform.core() as core:
                return (await core.commands.get(alice.principal, command.id)).state == "answered"

        await _wait_for(answered, "the command answered through the gateway")

        # The gateway dies: its Will takes it offline, and its sub-device with it.
        await _kill(client)
        assert await _events(presence, 2) == [
            (DeviceDisconnected, gateway, None),
            (DeviceDisconnected, sub, gateway),
        ]
        assert await _connected(platform, sub) is False
    finally:
        await asyncio.to_thread(client.loop_stop)
        cleaner = paho.Client(CallbackAPIVersion.VERSION2)
        cleaner.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
        cleaner.loop_start()
        cleaner.publish(f"{root}/status", b"", qos=1, retain=True).wait_for_publish(5)
        cleaner.disconnect()
        await asyncio.to_thread(cleaner.loop_stop)


async def test_a_gateway_session_closing_takes_its_sub_devices_offline_on_the_embedded_broker(
    platform: Platform, alice: Account, embedded: EmbeddedBroker, presence: Subscription
) -> None:
    gateway = await _create(platform, alice)
    sub = await _create(platform, alice, parent=gateway)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=gateway, protocol=paho.MQTTv311)
    client.username_pw_set("alice", alice.token)
    client.connect("127.0.0.1", embedded.port)
    client.loop_start()
    try:
        topic = f"thingport/v1/gateways/{gateway}/devices/{sub}/status"
        client.publish(topic, b"online", qos=1).wait_for_publish(5)
        assert [k for k, _, _ in await _events(presence, 2)] == [DeviceConnected] * 2
        await _kill(client)
        assert await _events(presence, 2) == [
            (DeviceDisconnected, gateway, None),
            (DeviceDisconnected, sub, gateway),
        ]
    finally:
        await asyncio.to_thread(client.loop_stop)
