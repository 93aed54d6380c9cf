"""The real Mosquitto on 127.0.0.1:1883: tests that need it skip without it, fail under CI."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from thingport.platform import Platform
from thingport.transports.mqtt.bridge import ExternalBroker

MOSQUITTO_HOST = os.environ.get("THINGPORT_TEST_MQTT_HOST", "127.0.0.1")
MOSQUITTO_PORT = int(os.environ.get("THINGPORT_TEST_MQTT_PORT", "1883"))
MOSQUITTO_URL = f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}"


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
