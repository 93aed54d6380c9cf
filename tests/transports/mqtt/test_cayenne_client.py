"""The official `cayenne-mqtt` client, unchanged, against Mosquitto with the bridge running.

It connects with MQTT credentials issued by the core (what Cayenne's `POST /v1.1/clients`
returns), publishes channel data that becomes series, reports `sys/` facts, and answers a
command sent through the command service: the command ends `answered`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Awaitable, Callable

import pytest
from cayenne.client import CayenneMQTTClient  # type: ignore[import-untyped]

from tests.conftest import Account
from tests.transports.mqtt.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.transports.mqtt.test_bridge import _wait_for
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform
from thingport.transports.mqtt.bridge import ExternalBroker
from thingport.transports.mqtt.embedded import EmbeddedBroker

# cayenne-mqtt 1.1.0 builds its paho client with the version-1 callback API.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Callback API version 1 is deprecated:DeprecationWarning"
)


@pytest.fixture
def thing_id() -> str:
    return f"thing-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def commands_seen() -> list[tuple[int, str]]:
    return []


async def test_cayenne_client_through_mosquitto_and_the_bridge(
    platform: Platform,
    alice: Account,
    bridge: ExternalBroker,
    thing_id: str,
    commands_seen: list[tuple[int, str]],
) -> None:
    await _scenario(platform, alice, thing_id, commands_seen, MOSQUITTO_HOST, MOSQUITTO_PORT)


async def test_cayenne_client_through_the_embedded_broker(
    platform: Platform, alice: Account, thing_id: str, commands_seen: list[tuple[int, str]]
) -> None:
    embedded = EmbeddedBroker(platform, port=0)
    await embedded.start()
    try:
        await _scenario(platform, alice, thing_id, commands_seen, "127.0.0.1", embedded.port)
    finally:
        await embedded.stop()


async def _scenario(
    platform: Platform,
    alice: Account,
    thing_id: str,
    commands_seen: list[tuple[int, str]],
    host: str,
    port: int,
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=thing_id))
        issued = await core.accounts.issue_mqtt_credentials(alice.principal.user_id)

    client = CayenneMQTTClient()

    def on_message(message: object) -> None:
        commands_seen.append((message.channel, message.value))  # type: ignore[attr-defined]

    client.on_message = on_message
    stop = threading.Event()

    def run() -> None:
        client.begin(issued.username, issued.password, thing_id, hostname=host, port=port)
        while not stop.is_set():
            client.loop()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        await _wait_for(_connected(client), "the Cayenne client to connect")
        client.celsiusWrite(1, 21.5)
        client.luxWrite(2, 300)

        async def stored() -> bool:
            async with platform.core() as core:
                ref = await core.devices.resolve(alice.principal, thing_id)
                series = (await core.telemetry.series_of_devices([ref.id]))[ref.id]
                props = (await core.devices.get(alice.principal, thing_id)).properties
            values = {s.key: (s.name, s.unit, s.last_value) for s in series}
            return (
                values
                == {
                    "1": ("temp", "c", 21.5),
                    "2": ("lum", "lux", 300.0),
                }
                and props.get("sys/model") == "Python"
            )

        await _wait_for(stored, "channel data and sys/model")

        async with platform.core() as core:
            command = await core.commands.send(alice.principal, thing_id, channel="3", payload=1)

        async def answered() -> bool:
            async with platform.core() as core:
                return (await core.commands.get(alice.principal, command.id)).state == "answered"

        await _wait_for(answered, "the command to be answered")
        assert commands_seen == [(3, "1")]
    finally:
        stop.set()
        worker.join(5)


def _connected(client: CayenneMQTTClient) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(client.connected)

    return check
