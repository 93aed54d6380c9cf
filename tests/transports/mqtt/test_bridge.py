"""External broker mode against the real Mosquitto, with paho-mqtt as the device."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.conftest import Account
from tests.transports.mqtt.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.query import Aggregator, Downsample, TimeRange
from thingport.platform import Platform
from thingport.transports.mqtt.bridge import ExternalBroker

TIMEOUT = 10


@pytest.fixture
def device_client() -> Iterator[paho.Client]:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
    client.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


async def _subscribe(client: paho.Client, topic: str) -> None:
    """Subscribe and return once the broker has granted it (its SUBACK). The client has no
    other subscription in flight, so any SUBACK is this one's."""
    loop = asyncio.get_running_loop()
    granted: asyncio.Future[None] = loop.create_future()

    def grant() -> None:
        if not granted.done():
            granted.set_result(None)

    def on_subscribe(*_args: object) -> None:
        loop.call_soon_threadsafe(grant)

    client.on_subscribe = on_subscribe
    client.subscribe(topic, qos=1)
    await asyncio.wait_for(granted, TIMEOUT)


async def _wait_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll until the condition holds; the bridge works in the background."""
    for _ in range(int(TIMEOUT / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def test_native_telemetry_through_mosquitto_is_stored(
    platform: Platform, alice: Account, bridge: ExternalBroker, device_client: paho.Client
) -> None:
    key = f"MQ-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=key))
    topic = f"thingport/v1/devices/{key}/telemetry"
    for second in range(5):
        body = {"ts": 1_700_000_000 + second, "values": {"temp": 20.0 + second, "hum": 50.0}}
        device_client.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)
    device_client.publish(topic, b"not json", qos=1).wait_for_publish(5)

    async def all_stored() -> bool:
        async with platform.core() as core:
            result = await core.telemetry.query(
                alice.principal,
                key,
                time_range=TimeRange(1_700_000_000_000, 1_700_000_010_000),
                downsample=Downsample(3_600_000, Aggregator.COUNT),
            )
        return sorted((r.series.key, r.points) for r in result.results) == [
            ("hum", [(1_699_999_200_000, 5.0)]),
            ("temp", [(1_699_999_200_000, 5.0)]),
        ]

    await _wait_for(all_stored, "10 points")

    async def rejected() -> bool:
        return bridge.handler.rejected["malformed"] >= 1

    await _wait_for(rejected, "the rejection")


async def test_unknown_device_is_rejected_and_others_still_stored(
    platform: Platform, alice: Account, bridge: ExternalBroker, device_client: paho.Client
) -> None:
    key = f"MQ-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=key))
    device_client.publish(
        "thingport/v1/devices/NO-SUCH-DEVICE/telemetry", b'{"t": 1}', qos=1
    ).wait_for_publish(5)
    device_client.publish(
        f"thingport/v1/devices/{key}/telemetry", b'{"t": 2}', qos=1
    ).wait_for_publish(5)

    async def stored() -> bool:
        async with platform.core() as core:
            ref = await core.devices.resolve(alice.principal, key)
            series = (await core.telemetry.series_of_devices([ref.id]))[ref.id]
        return [(s.key, s.last_value) for s in series] == [("t", 2.0)]

    await _wait_for(stored, "the good device's point")
    # >= 1: the bridge also sees other test runs' traffic on the shared Mosquitto
    assert bridge.handler.rejected["not_found"] >= 1


async def test_command_round_trip(
    platform: Platform, alice: Account, bridge: ExternalBroker, device_client: paho.Client
) -> None:
    key = f"MQ-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=key))
    received: asyncio.Queue[bytes] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def on_message(_client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        loop.call_soon_threadsafe(received.put_nowait, bytes(message.payload))

    device_client.on_message = on_message
    await _subscribe(device_client, f"thingport/v1/devices/{key}/commands")

    async with platform.core() as core:
        command = await core.commands.send(alice.principal, key, channel="relay", payload="on")
    delivered = json.loads(await asyncio.wait_for(received.get(), TIMEOUT))
    assert delivered["id"] == command.id
    assert delivered["payload"] == "on"

    async def state_is(expected: str) -> bool:
        async with platform.core() as core:
            return (await core.commands.get(alice.principal, command.id)).state == expected

    await _wait_for(lambda: state_is("sent"), "state sent")
    answer = {"id": command.id, "ok": True, "payload": {"relay": "on"}}
    device_client.publish(
        f"thingport/v1/devices/{key}/responses", json.dumps(answer), qos=1
    ).wait_for_publish(5)
    await _wait_for(lambda: state_is("answered"), "state answered")


async def test_mosquitto_clients_publish_and_receive_commands(
    platform: Platform, alice: Account, bridge: ExternalBroker
) -> None:
    """The command-line clients a person tries first: mosquitto_pub and mosquitto_sub."""
    if shutil.which("mosquitto_pub") is None or shutil.which("mosquitto_sub") is None:
        pytest.skip("mosquitto_pub/mosquitto_sub are not installed")
    if shutil.which("stdbuf") is None:
        pytest.skip("stdbuf (coreutils) is not installed: mosquitto_sub's SUBACK line is needed")
    key = f"MQ-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=key))
    base = ["-h", MOSQUITTO_HOST, "-p", str(MOSQUITTO_PORT), "-q", "1"]
    publish = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        *base,
        "-t",
        f"thingport/v1/devices/{key}/telemetry",
        "-m",
        '{"ts": 1700000000, "values": {"pressure": 1013.25}}',
    )
    assert await publish.wait() == 0

    subscriber = await asyncio.create_subprocess_exec(
        # Line-buffered, so that the SUBACK line arrives when it is printed, not at exit.
        *("stdbuf", "-oL", "mosquitto_sub"),
        *base,
        "-d",  # prints the SUBACK: the command is sent only once the subscription holds
        "-C",
        "1",
        "-t",
        f"thingport/v1/devices/{key}/commands",
        stdout=asyncio.subprocess.PIPE,
    )
    assert subscriber.stdout is not None
    while b"SUBACK" not in await asyncio.wait_for(subscriber.stdout.readline(), TIMEOUT):
        pass
    async with platform.core() as core:
        command = await core.commands.send(alice.principal, key, payload={"reboot": True})
    output, _ = await asyncio.wait_for(subscriber.communicate(), TIMEOUT)
    [delivered] = [line for line in output.splitlines() if line.startswith(b"{")]
    assert json.loads(delivered)["id"] == command.id

    async def stored() -> bool:
        async with platform.core() as core:
            ref = await core.devices.resolve(alice.principal, key)
            series = (await core.telemetry.series_of_devices([ref.id]))[ref.id]
        return [(s.key, s.last_value, s.last_ts) for s in series] == [
            ("pressure", 1013.25, 1_700_000_000_000)
        ]

    await _wait_for(stored, "the mosquitto_pub reading")


async def test_publishes_off_the_short_path_are_stored_too(
    platform: Platform, alice: Account, bridge: ExternalBroker
) -> None:
    """The bridge parses the usual QoS 1 PUBLISH itself and leaves the rest to paho: MQTT 5
    properties, QoS 0, and a payload larger than one socket read must all arrive."""
    key = f"MQ-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=key))
    topic = f"thingport/v1/devices/{key}/telemetry"
    device = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5
    )
    device.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
    device.loop_start()
    try:
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.UserProperty = ("site", "lab")
        properties.ContentType = "application/json"
        body = {"ts": 1_700_000_000, "values": {"with_properties": 1.0}}
        device.publish(topic, json.dumps(body), qos=1, properties=properties).wait_for_publish(5)
        body = {"ts": 1_700_000_000, "values": {"at_qos_0": 2.0}}
        device.publish(topic, json.dumps(body), qos=0).wait_for_publish(5)
        # About 200 KB: more than one read of the bridge's socket buffer.
        large = [{"ts": 1_700_000_000 + i, "values": {"large": float(i)}} for i in range(4000)]
        device.publish(topic, json.dumps(large), qos=1).wait_for_publish(5)
    finally:
        device.disconnect()
        device.loop_stop()

    async def stored() -> bool:
        async with platform.core() as core:
            ref = await core.devices.resolve(alice.principal, key)
            series = (await core.telemetry.series_of_devices([ref.id]))[ref.id]
        return sorted((s.key, s.last_value) for s in series) == [
            ("at_qos_0", 2.0),
            ("large", 3999.0),
            ("with_properties", 1.0),
        ]

    await _wait_for(stored, "the three publishes")
    async with platform.core() as core:
        result = await core.telemetry.query(
            alice.principal,
            key,
            time_range=TimeRange(1_700_000_000_000, 1_700_010_000_000),
            downsample=Downsample(86_400_000, Aggregator.COUNT),
        )
    assert {r.series.key: sum(v or 0.0 for _, v in r.points) for r in result.results} == {
        "at_qos_0": 1.0,
        "large": 4000.0,
        "with_properties": 1.0,
    }


@contextlib.contextmanager
def _private_mosquitto(port: int, workdir: Path) -> Iterator[None]:
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} {MOSQUITTO_HOST}\nallow_anonymous true\n")
    process = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection((MOSQUITTO_HOST, port), 1):
                break
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(10)


async def test_reconnects_and_resubscribes_after_the_broker_restarts(
    platform: Platform, alice: Account, tmp_path: Path
) -> None:
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    key = f"MQ-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=key))
    with socket.socket() as probe:
        probe.bind((MOSQUITTO_HOST, 0))
        port = probe.getsockname()[1]
    url = f"mqtt://{MOSQUITTO_HOST}:{port}"
    bridge = ExternalBroker(platform, url, client_id=f"thingport-test-{uuid.uuid4().hex[:8]}")
    with _private_mosquitto(port, tmp_path):
        await bridge.start()
    try:
        await _wait_for(lambda: _is(not bridge.subscribed.is_set()), "the disconnection")
        with _private_mosquitto(port, tmp_path):
            # paho's pause before a reconnect starts at 1 s
            await _wait_for(lambda: _is(bridge.subscribed.is_set()), "the resubscription")
            publish = await asyncio.create_subprocess_exec(
                "mosquitto_pub",
                *("-h", MOSQUITTO_HOST, "-p", str(port), "-q", "1"),
                *("-t", f"thingport/v1/devices/{key}/telemetry", "-m", '{"t": 7}'),
            )
            assert await publish.wait() == 0

            async def stored() -> bool:
                async with platform.core() as core:
                    ref = await core.devices.resolve(alice.principal, key)
                    series = (await core.telemetry.series_of_devices([ref.id]))[ref.id]
                return [(s.key, s.last_value) for s in series] == [("t", 7.0)]

            await _wait_for(stored, "the reading after the restart")
    finally:
        await bridge.stop(keep_session=False)


async def _is(value: bool) -> bool:
    return value


def test_a_resumed_session_drops_queued_copies_the_broker_resends() -> None:
    """After a reconnect to a resumed session the broker resends every unacknowledged QoS 1
    message: the copies still queued from the old connection must not be stored as well."""
    from collections import deque

    from thingport.transports.mqtt.bridge import _Delivery

    bridge = ExternalBroker.__new__(ExternalBroker)
    bridge._generation = 2
    queue = deque(
        [
            _Delivery(1, 5, 1, "t", b"old, resent by the broker"),
            _Delivery(2, 6, 1, "t", b"this connection's"),
            _Delivery(1, 7, 0, "t", b"QoS 0 is never resent"),
        ]
    )
    bridge._drop_stale(queue)
    assert [d.mid for d in queue] == [6, 7]
