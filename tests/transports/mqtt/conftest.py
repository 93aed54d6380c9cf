"""The real Mosquitto on 127.0.0.1:1883: tests that need it skip without it, fail under CI."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from thingport.platform import Platform
from thingport.transports.mqtt.bridge import ExternalBroker

MOSQUITTO_HOST = os.environ.get("THINGPORT_TEST_MQTT_HOST", "127.0.0.1")
MOSQUITTO_PORT = int(os.environ.get("THINGPORT_TEST_MQTT_PORT", "1883"))
MOSQUITTO_URL = f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}"


def end_broker_session(client_id: str) -> None:
    """Drop a stopped worker's persistent session, or the broker keeps queueing for it."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    # A clean start discards the stored session and the expiry of 0 ends the new one when it
    # disconnects: nothing to time, the broker reads CONNECT before DISCONNECT.
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0
    client.connect(MOSQUITTO_HOST, MOSQUITTO_PORT, clean_start=True, properties=properties)
    client.loop_start()
    try:
        client.disconnect()
    finally:
        client.loop_stop()


@pytest.fixture(scope="session")
def mosquitto() -> str:
    try:
        with socket.create_connection((MOSQUITTO_HOST, MOSQUITTO_PORT), timeout=2):
            pass
    except OSError as error:
        message = f"Mosquitto not reachable at {MOSQUITTO_HOST}:{MOSQUITTO_PORT}: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: the MQTT transport must be tested)")
        pytest.skip(message)
    return MOSQUITTO_URL


@pytest.fixture
async def bridge(platform: Platform, mosquitto: str) -> AsyncIterator[ExternalBroker]:
    """The platform on Mosquitto. A share group and client id of its own, so concurrent test
    runs never take each other's messages; the session ends with the test."""
    run = uuid.uuid4().hex[:8]
    broker = ExternalBroker(
        platform, mosquitto, client_id=f"thingport-test-{run}", share_group=f"t{run}"
    )
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop(keep_session=False)
