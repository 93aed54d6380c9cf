"""The real Mosquitto on 127.0.0.1:1883: tests that need it skip without it, fail under CI."""

from __future__ import annotations

import os
import socket

import pytest

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
