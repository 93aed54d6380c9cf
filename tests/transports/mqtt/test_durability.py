"""SIGKILL during a publish storm loses no message the broker acknowledged to a device.

The platform runs as `thingport serve --mqtt-url` in a subprocess on SQLite. A paho publisher
sends QoS 1 messages (three values each) and waits for each PUBACK; halfway through, the server
is killed with SIGKILL and then started again with the same MQTT client id. Every acknowledged
point must be stored. Each message carries its own timestamp, so a redelivered copy lands on the
same (series, time) point: the count shows nothing was lost, and cannot show duplicates (a
reading stamped on arrival and redelivered would be stored twice: at-least-once).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text

from tests.conftest import _free_port
from tests.transports.mqtt.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, end_broker_session
from thingport.core.accounts.schemas import Principal, UserCreate
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform
from thingport.settings import Settings

MESSAGES = 1000
KEY = "STORM-1"
# Mosquitto's default max_queued_messages (1000) caps what it holds for an offline session and
# drops the rest (it logs "Outgoing messages are being dropped"). The storm is paced so the
# restart window stays under that cap; production brokers should raise it (see BROKERS.md).
PAUSE_S = 0.01  # about 80 messages/s: a 10 s restart still stays under the cap


def _start_server(
    data_dir: Path, mosquitto: str, client_id: str, group: str
) -> subprocess.Popen[bytes]:
    port = _free_port()
    env = {
        **os.environ,
        "THINGPORT_MQTT_CLIENT_ID": client_id,
        "THINGPORT_MQTT_SHARE_GROUP": group,
        "THINGPORT_VIRTUAL_DEVICES": "false",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "thingport",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--mqtt-url",
            mosquitto,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("thingport serve --mqtt-url did not become healthy")


async def _stored_points(settings: Settings) -> int:
    platform = Platform(settings)
    try:
        async with platform.db.sessions() as session:
            return int((await session.execute(text("SELECT COUNT(*) FROM points"))).scalar_one())
    finally:
        await platform.close()


async def test_sigkill_during_a_storm_loses_no_acknowledged_point(
    tmp_path: Path, mosquitto: str
) -> None:
    settings = Settings(data_dir=tmp_path, virtual_devices=False)
    platform = Platform(settings)
    await platform.migrate()
    async with platform.core() as core:
        user = await core.accounts.create_user(UserCreate(username="storm", email="s@example.com"))
        await core.devices.create(
            Principal(user_id=user.id, username="storm"), DeviceCreate(key=KEY)
        )
    await platform.close()

    run = uuid.uuid4().hex[:8]
    client_id, group = f"thingport-storm-{run}", f"storm{run}"
    server = _start_server(tmp_path, mosquitto, client_id, group)

    publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"storm-dev-{run}")
    publisher.connect(MOSQUITTO_HOST, MOSQUITTO_PORT)
    publisher.loop_start()
    acknowledged = 0
    try:
        for n in range(MESSAGES):
            body = {"ts": 1_700_000_000_000 + n, "values": {"a": n, "b": n * 2, "c": n * 3}}
            info = publisher.publish(
                f"thingport/v1/devices/{KEY}/telemetry", json.dumps(body), qos=1
            )
            info.wait_for_publish(10)
            assert info.is_published()
            acknowledged += 1
            await asyncio.sleep(PAUSE_S)
            if n == MESSAGES // 2:
                server.send_signal(signal.SIGKILL)
                server.wait(10)
                server = _start_server(tmp_path, mosquitto, client_id, group)
    finally:
        publisher.disconnect()
        publisher.loop_stop()

    try:
        expected = acknowledged * 3
        for _ in range(300):
            if await _stored_points(settings) >= expected:
                break
            await asyncio.sleep(0.1)
        assert await _stored_points(settings) == expected
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
        end_broker_session(client_id)
