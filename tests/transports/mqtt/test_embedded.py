"""The embedded amqtt broker with real clients: paho-mqtt (MQTT 3.1.1) and mosquitto_pub."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.query import Aggregator, Downsample, TimeRange
from thingport.core.telemetry.service import TelemetryService
from thingport.platform import Platform
from thingport.transports.mqtt.embedded import EmbeddedBroker

TIMEOUT = 10


@pytest.fixture
async def broker(platform: Platform) -> AsyncIterator[EmbeddedBroker]:
    embedded = EmbeddedBroker(platform, port=0)
    await embedded.start()
    try:
        yield embedded
    finally:
        await embedded.stop()


class Device:
    """A paho-mqtt 2.x client on its own network thread, with asyncio futures for its events."""

    def __init__(self, port: int, client_id: str, username: str, password: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.port = port
        self.connack: asyncio.Future[str] = self.loop.create_future()
        self.messages: asyncio.Queue[paho.MQTTMessage] = asyncio.Queue()
        self.subacks: asyncio.Queue[list[int]] = asyncio.Queue()
        self.acked: set[int] = set()
        self.disconnected = asyncio.Event()
        # No automatic reconnect: a refused client would log in again about a second later
        # and bump the broker's refusal counters under a test's feet.
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv311,
            reconnect_on_failure=False,
        )
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_disconnect = self._on_disconnect

    def _call(self, function: Callable[..., object], *args: object) -> None:
        self.loop.call_soon_threadsafe(function, *args)

    def _on_connect(self, *args: object) -> None:
        reason = str(args[3])

        def settle() -> None:
            if not self.connack.done():
                self.connack.set_result(reason)

        self._call(settle)

    def _on_message(self, _c: object, _u: object, message: paho.MQTTMessage) -> None:
        self._call(self.messages.put_nowait, message)

    def _on_subscribe(
        self, _c: paho.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: Properties
    ) -> None:
        self._call(self.subacks.put_nowait, [code.value for code in codes])

    def _on_publish(self, _c: object, _u: object, mid: int, *_: object) -> None:
        self._call(self.acked.add, mid)

    def _on_disconnect(self, *_: object) -> None:
        self._call(self.disconnected.set)

    async def connect(self) -> str:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        return await asyncio.wait_for(self.connack, TIMEOUT)

    async def close(self) -> None:
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> int:
        info = self.client.publish(topic, payload, qos=qos)
        return info.mid

    async def puback(self, mid: int) -> None:
        await _wait_for(lambda: _true(mid in self.acked), f"PUBACK of {mid}")


async def _true(value: bool) -> bool:
    return value


async def _wait_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(int(TIMEOUT / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
async def device_of(
    broker: EmbeddedBroker,
) -> AsyncIterator[Callable[[str, str, str], Awaitable[Device]]]:
    devices: list[Device] = []

    async def connect(client_id: str, username: str, password: str) -> Device:
        device = Device(broker.port, client_id, username, password)
        devices.append(device)
        assert await device.connect() == "Success"
        return device

    yield connect
    for device in devices:
        await device.close()


async def _create(platform: Platform, owner: Account) -> str:
    key = f"EM-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(owner.principal, DeviceCreate(key=key))
    return key


async def _points(platform: Platform, owner: Account, key: str) -> list[tuple[str, float | None]]:
    async with platform.core() as core:
        result = await core.telemetry.query(
            owner.principal,
            key,
            time_range=TimeRange(1_700_000_000_000, 1_700_000_100_000),
            downsample=Downsample(3_600_000, Aggregator.COUNT),
        )
    return sorted((r.series.key, r.points[0][1]) for r in result.results)


async def test_wrong_password_is_refused(broker: EmbeddedBroker, alice: Account) -> None:
    device = Device(broker.port, "anything", "alice", "tp_not-a-token")
    try:
        assert await device.connect() == "Not authorized"
    finally:
        await device.close()
    assert broker.refused["connect"] == 1


async def test_port_taken_names_the_flag(platform: Platform) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        embedded = EmbeddedBroker(platform, port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="--mqtt-port"):
            await embedded.start()
    assert embedded not in platform.command_dispatchers


async def test_telemetry_is_committed_before_the_puback(
    platform: Platform,
    alice: Account,
    broker: EmbeddedBroker,
    device_of: Callable[[str, str, str], Awaitable[Device]],
) -> None:
    key = await _create(platform, alice)
    device = await device_of(key, "alice", alice.token)
    topic = f"thingport/v1/devices/{key}/telemetry"
    body = {"ts": 1_700_000_000, "values": {"temp": 21.5, "hum": 40}}
    mid = device.publish(topic, json.dumps(body))
    await device.puback(mid)
    # No polling: once the PUBACK is in, the points are readable.
    assert await _points(platform, alice, key) == [("hum", 1.0), ("temp", 1.0)]
    assert broker.handler.accepted == 1


async def test_qos2_is_stored_before_its_handshake_completes(
    platform: Platform,
    alice: Account,
    broker: EmbeddedBroker,
    device_of: Callable[[str, str, str], Awaitable[Device]],
) -> None:
    """QoS 2 was acknowledged and passed on without being stored; now it is stored before the
    PUBREC, and once (paho's on_publish fires after PUBCOMP)."""
    key = await _create(platform, alice)
    device = await device_of(key, "alice", alice.token)
    body = {"ts": 1_700_000_002, "values": {"temp": 22.5}}
    mid = device.publish(f"thingport/v1/devices/{key}/telemetry", json.dumps(body), qos=2)
    await device.puback(mid)
    assert await _points(platform, alice, key) == [("temp", 1.0)]
    assert broker.handler.accepted == 1


async def test_mosquitto_pub_qos1_is_stored(
    platform: Platform, alice: Account, broker: EmbeddedBroker
) -> None:
    if shutil.which("mosquitto_pub") is None:
        pytest.skip("mosquitto_pub is not installed")
    key = await _create(platform, alice)
    body = json.dumps({"ts": 1_700_000_001, "values": {"temp": 1}})
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub", "-p", str(broker.port), "-i", key, "-u", "alice", "-P", alice.token,
        "-q", "1", "-t", f"thingport/v1/devices/{key}/telemetry", "-m", body,
    )  # fmt: skip
    assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
    assert await _points(platform, alice, key) == [("temp", 1.0)]


async def test_another_users_device_is_not_stored_and_subscription_refused(
    platform: Platform,
    alice: Account,
    bob: Account,
    broker: EmbeddedBroker,
    device_of: Callable[[str, str, str], Awaitable[Device]],
) -> None:
    alices = await _create(platform, alice)
    intruder = await device_of("bob-device", "bob", bob.token)
    body = json.dumps({"ts": 1_700_000_000, "values": {"temp": 99}})
    mid = intruder.publish(f"thingport/v1/devices/{alices}/telemetry", body)
    await intruder.puback(mid)  # acknowledged (it will never be valid) but not stored
    assert await _points(platform, alice, alices) == []
    assert broker.handler.rejected["forbidden_topic"] == 1

    intruder.client.subscribe(f"thingport/v1/devices/{alices}/commands", qos=1)
    assert await asyncio.wait_for(intruder.subacks.get(), TIMEOUT) == [0x80]
    intruder.client.subscribe("thingport/v1/devices/#", qos=1)
    assert await asyncio.wait_for(intruder.subacks.get(), TIMEOUT) == [0x80]


async def test_command_round_trip(
    platform: Platform,
    alice: Account,
    broker: EmbeddedBroker,
    device_of: Callable[[str, str, str], Awaitable[Device]],
) -> None:
    key = await _create(platform, alice)
    device = await device_of(key, "alice", alice.token)
    device.client.subscribe(f"thingport/v1/devices/{key}/commands", qos=1)
    assert await asyncio.wait_for(device.subacks.get(), TIMEOUT) == [1]
    assert broker in platform.command_dispatchers

    async with platform.core() as core:
        command = await core.commands.send(alice.principal, key, payload={"led": "on"})
    message = await asyncio.wait_for(device.messages.get(), TIMEOUT)
    assert message.topic == f"thingport/v1/devices/{key}/commands"
    received = json.loads(message.payload)
    assert received == {"id": command.id, "channel": None, "payload": {"led": "on"}}

    answer = {"id": command.id, "ok": True, "payload": {"led": "is on"}}
    mid = device.publish(f"thingport/v1/devices/{key}/responses", json.dumps(answer))
    await device.puback(mid)
    async with platform.core() as core:
        final = await core.commands.get(alice.principal, command.id)
    assert final.state == "answered"
    assert final.response == {"led": "is on"}


async def test_presence_follows_the_connection(
    platform: Platform, alice: Account, broker: EmbeddedBroker
) -> None:
    key = await _create(platform, alice)

    async def connected() -> bool | None:
        async with platform.core() as core:
            row = await core.devices.repo.by_key(key)
            assert row is not None
            return row.connected

    device = Device(broker.port, key, "alice", alice.token)
    assert await device.connect() == "Success"
    await _wait_for(lambda: _is(connected(), True), "online")
    await device.close()
    await _wait_for(lambda: _is(connected(), False), "offline")


async def _is(value: Awaitable[bool | None], expected: bool) -> bool:
    return await value is expected


async def test_malformed_payload_does_not_disconnect_others(
    platform: Platform,
    alice: Account,
    broker: EmbeddedBroker,
    device_of: Callable[[str, str, str], Awaitable[Device]],
) -> None:
    good_key, bad_key = await _create(platform, alice), await _create(platform, alice)
    good = await device_of(good_key, "alice", alice.token)
    bad = await device_of(bad_key, "alice", alice.token)
    mid = bad.publish(f"thingport/v1/devices/{bad_key}/telemetry", b"{not json")
    await bad.puback(mid)  # refused for good, so acknowledged
    assert broker.handler.rejected["malformed"] == 1
    bad.publish(f"thingport/v1/devices/{bad_key}/telemetry", b"[1, 2]", qos=0)
    # QoS 0 has no acknowledgement: wait for the broker to have refused it too.
    await _wait_for(lambda: _true(broker.handler.rejected["malformed"] == 2), "the QoS 0 refusal")

    body = json.dumps({"ts": 1_700_000_002, "values": {"temp": 3}})
    mid = good.publish(f"thingport/v1/devices/{good_key}/telemetry", body)
    await good.puback(mid)
    assert await _points(platform, alice, good_key) == [("temp", 1.0)]
    assert await _points(platform, alice, bad_key) == []
    assert not good.disconnected.is_set()
    assert not bad.disconnected.is_set()


async def test_a_burst_from_several_clients_is_acknowledged_after_its_commit(
    platform: Platform,
    alice: Account,
    bob: Account,
    broker: EmbeddedBroker,
    device_of: Callable[[str, str, str], Awaitable[Device]],
) -> None:
    """Publishes that arrive together are stored together; each PUBACK still follows the
    commit of its own message, and every message is stored once."""
    keys = {alice.token: await _create(platform, alice), bob.token: await _create(platform, bob)}
    owners = {alice.token: alice, bob.token: bob}
    mids: dict[str, list[int]] = {}
    clients: dict[str, Device] = {}
    for token, key in keys.items():
        clients[token] = await device_of(key, owners[token].principal.username, token)
    for second in range(50):
        for token, key in keys.items():
            body = {"ts": 1_700_000_000 + second, "values": {"n": second}}
            topic = f"thingport/v1/devices/{key}/telemetry"
            mids.setdefault(token, []).append(clients[token].publish(topic, json.dumps(body)))
    for token, device in clients.items():
        for mid in mids[token]:
            await device.puback(mid)
    for token, key in keys.items():
        assert await _points(platform, owners[token], key) == [("n", 50.0)]
    assert broker.handler.accepted == 100


async def test_a_storage_outage_sends_no_puback_and_closes_the_client(
    platform: Platform,
    alice: Account,
    broker: EmbeddedBroker,
    device_of: Callable[[str, str, str], Awaitable[Device]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = await _create(platform, alice)
    device = await device_of(key, "alice", alice.token)

    ingest_many = TelemetryService.ingest_many

    async def outage(self: TelemetryService, *args: Any, **kwargs: Any) -> int:
        await ingest_many(self, *args, **kwargs)  # written in the transaction that then fails
        raise OSError("the database went away")

    monkeypatch.setattr(TelemetryService, "ingest_many", outage)
    body = {"ts": 1_700_000_000, "values": {"temp": 1}}
    mid = device.publish(f"thingport/v1/devices/{key}/telemetry", json.dumps(body))
    await asyncio.wait_for(device.disconnected.wait(), TIMEOUT)
    assert mid not in device.acked
    monkeypatch.undo()
    assert await _points(platform, alice, key) == []
