"""SmartCitizen kits over MQTT, end to end: paho publishing on `device/sck/{token}/...` through
the real Mosquitto (external broker mode) and through the embedded broker, where the kit logs
in with its token alone; read back through the SmartCitizen API and the core."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Account
from tests.transports.mqtt.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.transports.mqtt.test_embedded import Device
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform
from thingport.transports.mqtt.bridge import ExternalBroker
from thingport.transports.mqtt.embedded import EmbeddedBroker

KIT_21 = 26
BASE = "/smartcitizen/v0"
TIMEOUT = 10
READINGS = {
    "data": [
        {
            "recorded_at": "2024-01-01T00:00:00Z",
            "sensors": [
                {"id": 55, "value": 21.5},
                {"id": "56", "value": 40},
                {"id": 14, "value": None},
            ],
        }
    ]
}
UNKNOWN_SENSOR = b'{"data":[{"recorded_at":"2024-01-01","sensors":[{"id":99999,"value":1}]}]}'
RAW = b"{t:2024-01-01T00:01:00Z,55:22.5,10:3.12345,14:null}"
INFO = {"hw_ver": "2.1", "id": "3A8F", "sam_ver": "0.9.8", "esp_ver": "0.9.8", "mac": "AA:BB"}


async def _kit(platform: Platform, owner: Account) -> tuple[int, str, str]:
    """A public SmartCitizen Kit 2.1 and its device token."""
    async with platform.core() as core:
        await core.catalog.install_builtin()  # the app does it at start; not every test has it
        device = await core.devices.create(
            owner.principal, DeviceCreate(type_id=KIT_21, name="kit", public=True)
        )
        token = await core.devices.issue_token(owner.principal, device.key)
    return device.id, device.key, token


async def _series(platform: Platform, device_id: int) -> dict[str, float | None]:
    async with platform.core() as core:
        series = (await core.telemetry.series_of_devices([device_id]))[device_id]
    return {s.key: s.last_value for s in series}


async def _wait_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(int(TIMEOUT / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def _check_stored(
    client: httpx.AsyncClient, owner: Account, device_id: int
) -> dict[str, Any]:
    """The readings of sensor 55 through the SmartCitizen API, and the device JSON."""
    response = await client.get(
        f"{BASE}/devices/{device_id}/readings",
        params={"sensor_id": 55, "rollup": "1m", "from": "2023-12-31", "to": "2024-01-02"},
    )
    assert response.status_code == 200, response.text
    assert [value for _, value in response.json()["readings"]] == [22.5, 21.5]
    device = await client.get(
        f"{BASE}/devices/{device_id}", headers={"Authorization": f"Bearer {owner.token}"}
    )
    assert device.status_code == 200, device.text
    hardware: dict[str, Any] = device.json()["hardware"]
    return hardware


# -- through Mosquitto (external broker mode) ----------------------------------------------------


@pytest.fixture
def kit_client() -> Iterator[paho.Client]:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sck-{uuid.uuid4().hex[:8]}")
    client.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


async def test_kit_readings_raw_and_info_through_mosquitto(
    platform: Platform,
    alice: Account,
    bridge: ExternalBroker,
    kit_client: paho.Client,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    device_id, _, token = await _kit(platform, alice)
    root = f"device/sck/{token}"
    for topic, payload in [
        (f"{root}/hello", b"hello"),
        (f"{root}/readings", json.dumps(READINGS).encode()),
        (f"{root}/readings/raw", RAW),
        (f"{root}/info", json.dumps(INFO).encode()),
        # Refused: no device has this token (tokens are hex), and no sensor has this id.
        ("device/sck/nosuch/readings", json.dumps(READINGS).encode()),
        (f"{root}/readings", UNKNOWN_SENSOR),
    ]:  # fmt: skip
        kit_client.publish(topic, payload, qos=1).wait_for_publish(5)

    async def stored() -> bool:
        return await _series(platform, device_id) == {"55": 22.5, "56": 40.0, "10": 3.12345}

    await _wait_for(stored, "the kit's readings under its sensors' ids")

    async def refused() -> bool:
        counts = bridge.handler.rejected
        return counts["unknown_token"] >= 1 and counts["unknown_sensor"] >= 1

    await _wait_for(refused, "the unknown token and sensor to be refused")
    # The token is the kit's credential: refusals are logged without it.
    logged = [r.getMessage() for r in caplog.records if "rejected MQTT message" in r.getMessage()]
    assert any("unknown_sensor" in line for line in logged)
    assert all(token not in line for line in logged)
    assert any("device/sck/[FILTERED]/readings" in line for line in logged)

    async def has_info() -> bool:
        async with platform.core() as core:
            device = await core.devices.get_by_id(alice.principal, device_id)
        return device.properties.get("hardware_info") == INFO

    await _wait_for(has_info, "the info message")
    hardware = await _check_stored(client, alice, device_id)
    assert hardware["last_status_message"] == INFO
    # The refused sensor stored nothing: no series 99999.
    assert "99999" not in await _series(platform, device_id)


# -- the embedded broker, the kit logging in with its token -----------------------------------


@pytest.fixture
async def broker(platform: Platform) -> AsyncIterator[EmbeddedBroker]:
    embedded = EmbeddedBroker(platform, port=0)  # a free port
    await embedded.start()
    try:
        yield embedded
    finally:
        await embedded.stop()


@pytest.fixture
async def connect(broker: EmbeddedBroker) -> AsyncIterator[Callable[..., Awaitable[Device]]]:
    devices: list[Device] = []

    async def open_(client_id: str, username: str, password: str = "") -> Device:
        device = Device(broker.port, client_id, username, password)
        devices.append(device)
        await device.connect()
        return device

    yield open_
    for device in devices:
        await device.close()


async def test_kit_logs_in_with_its_token_on_the_embedded_broker(
    platform: Platform,
    alice: Account,
    broker: EmbeddedBroker,
    connect: Callable[..., Awaitable[Device]],
    client: httpx.AsyncClient,
) -> None:
    device_id, key, token = await _kit(platform, alice)
    kit = await connect(f"sck-{token}", token)
    assert await kit.connack == "Success"

    async def seen() -> bool:  # presence: the kit's connection marks it seen
        async with platform.core() as core:
            device = await core.devices.get_by_id(alice.principal, device_id)
        return device.last_seen_at is not None

    await _wait_for(seen, "the kit's presence")

    root = f"device/sck/{token}"
    for topic, payload in [
        (f"{root}/readings", json.dumps(READINGS).encode()),
        (f"{root}/readings/raw", RAW),
        (f"{root}/info", json.dumps(INFO).encode()),
    ]:
        await kit.puback(kit.publish(topic, payload))
    # Committed before the PUBACK: readable at once.
    assert await _series(platform, device_id) == {"55": 22.5, "56": 40.0, "10": 3.12345}
    assert (await _check_stored(client, alice, device_id))["last_status_message"] == INFO

    # Its token opens its own topics only: not another kit's, not the native ones of its key.
    before = dict(broker.handler.rejected)
    for topic in ("device/sck/ffffff/readings", f"thingport/v1/devices/{key}/telemetry"):
        await kit.puback(kit.publish(topic, b'{"t": 1}'))
    assert broker.handler.rejected["forbidden_topic"] == before.get("forbidden_topic", 0) + 2
    assert set(await _series(platform, device_id)) == {"55", "56", "10"}


async def test_token_as_client_id_and_wrong_tokens(
    platform: Platform,
    alice: Account,
    broker: EmbeddedBroker,
    connect: Callable[..., Awaitable[Device]],
) -> None:
    _, _, token = await _kit(platform, alice)
    # No user name: the client id is the token.
    kit = await connect(token, "")
    assert await kit.connack == "Success"
    accepted = broker.handler.accepted
    await kit.puback(kit.publish(f"device/sck/{token}/hello", b""))
    assert broker.handler.accepted == accepted + 1
    # Not a token, a token with a password, a user name without one: refused.
    refused = broker.refused["connect"]
    assert await (await connect("x1", "ffffff")).connack == "Not authorized"
    assert await (await connect("x2", token, "some-password")).connack == "Not authorized"
    assert await (await connect("x3", "alice")).connack == "Not authorized"
    assert broker.refused["connect"] == refused + 3
