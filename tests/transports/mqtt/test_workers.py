"""Two `thingport serve` workers on one PostgreSQL database and Mosquitto, as a deployment runs
them: what one worker learnt about a device serves the other.

Worker A alone hears a Cayenne device (the official `cayenne-mqtt` client) and stores its data;
the device's route (Cayenne, its MQTT user name) goes to the device's row. A then stops and its
broker session is ended, so that the share group has one member left: worker B, started only
now, has never heard the device. `thingport command send` records a command (the CLI has no
broker connection), B claims it from the database and publishes it on the device's Cayenne
topic, and the device's answer, which only B can receive, marks the command answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cayenne.client import CayenneMQTTClient  # type: ignore[import-untyped]
from sqlalchemy import text

from tests.conftest import _free_port, _truncate, make_account
from tests.transports.mqtt.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, end_broker_session
from tests.transports.mqtt.test_bridge import _wait_for
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform
from thingport.settings import Settings

# cayenne-mqtt 1.1.0 builds its paho client with the version-1 callback API.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Callback API version 1 is deprecated:DeprecationWarning"
)

THINGPORT = [sys.executable, "-m", "thingport"]
START_TIMEOUT_S = 90  # two cores shared by many test runs: a start can take a while


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    client_id: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _start(database_url: str, mosquitto: str, client_id: str, group: str, log: Path) -> Worker:
    port = _free_port()
    env = {
        **os.environ,
        "THINGPORT_MQTT_CLIENT_ID": client_id,
        "THINGPORT_MQTT_SHARE_GROUP": group,
        "THINGPORT_VIRTUAL_DEVICES": "false",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *THINGPORT,
                "serve",
                "--no-migrate",  # the test migrated the database once, as a deployment does
                *("--port", str(port)),
                *("--database-url", database_url),
                *("--mqtt-url", mosquitto),
            ],
            env=env,
            stdout=sink,
            stderr=sink,
        )
    worker = Worker(process, client_id, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            # Ready means subscribed: the bridge's start waits for the broker's SUBACK.
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return worker
        time.sleep(0.2)
    process.kill()
    process.wait(10)
    pytest.fail(f"worker {client_id} did not start:\n{worker.output()}")


def _stop(worker: Worker) -> None:
    """Stop the worker and end its broker session: Mosquitto would otherwise keep handing the
    stopped worker's session its share of the group's messages (BROKERS.md)."""
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGINT)
        try:
            worker.process.wait(30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(10)
    end_broker_session(worker.client_id)


@pytest.fixture
async def shared_database(postgres_url: str) -> AsyncIterator[str]:
    """This test run's PostgreSQL database, emptied: the workers and the test all use it."""
    await _truncate(postgres_url)
    yield postgres_url
    await _truncate(postgres_url)


@pytest.fixture
async def platform_on(shared_database: str, tmp_path: Path) -> AsyncIterator[Platform]:
    platform = Platform(Settings(database_url=shared_database, data_dir=tmp_path, mqtt_port=0))
    try:
        yield platform
    finally:
        await platform.close()


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def workers(shared_database: str, mosquitto: str) -> Iterator[list[Worker]]:
    """The workers a test starts, stopped (and their sessions ended) before the database is
    emptied."""
    started: list[Worker] = []
    try:
        yield started
    finally:
        for worker in started:
            _stop(worker)


async def test_a_command_sent_through_one_worker_reaches_a_device_heard_by_another(
    platform_on: Platform,
    shared_database: str,
    mosquitto: str,
    run_id: str,
    workers: list[Worker],
    tmp_path: Path,
) -> None:
    platform = platform_on
    alice = await make_account(platform, f"alice-{run_id}")
    thing_id = f"thing-{run_id}"
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=thing_id))
        issued = await core.accounts.issue_mqtt_credentials(alice.principal.user_id)
    group = f"workers-{run_id}"

    async def start(name: str) -> Worker:
        worker = await asyncio.to_thread(
            _start,
            shared_database,
            mosquitto,
            f"tp-{name}-{run_id}",
            group,
            tmp_path / f"{name}.log",
        )
        workers.append(worker)
        return worker

    a = await start("a")

    seen: list[tuple[int, str]] = []
    client = CayenneMQTTClient()
    client.on_message = lambda message: seen.append((message.channel, message.value))
    stop = threading.Event()

    def run() -> None:
        client.begin(
            issued.username, issued.password, thing_id, hostname=MOSQUITTO_HOST, port=MOSQUITTO_PORT
        )
        while not stop.is_set():
            client.loop()

    device = threading.Thread(target=run, daemon=True)
    device.start()
    try:

        async def connected() -> bool:
            return bool(client.connected)

        await _wait_for(connected, "the Cayenne client to connect")
        # The client subscribes to its cmd/+ topic on connecting, before this publish: once a
        # worker has the reading, the broker has the subscription too.
        client.celsiusWrite(1, 21.5)

        async def stored_by_a() -> bool:
            async with platform.core() as core:
                ref = await core.devices.resolve(alice.principal, thing_id)
                series = (await core.telemetry.series_of_devices([ref.id]))[ref.id]
                _, route = await core.devices.command_path(ref)
            return [(s.key, s.last_value) for s in series] == [("1", 21.5)] and route is not None

        await _wait_for(stored_by_a, "worker A to store the reading and the route")
        async with platform.core() as core:
            ref = await core.devices.resolve(alice.principal, thing_id)
            _, route = await core.devices.command_path(ref)
        assert route is not None
        assert (route.convention, route.username) == ("cayenne", issued.username)

        # From now on the group's only member is B, which never heard the device.
        await asyncio.to_thread(_stop, a)
        b = await start("b")
        sent = await asyncio.to_thread(
            subprocess.run,
            [
                *THINGPORT,
                *("command", "send", thing_id, "3", "1"),
                *("--user", alice.principal.username, "--database-url", shared_database),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        command_id = sent.stdout.strip()

        async def answered() -> bool:
            async with platform.core() as core:
                command = await core.commands.get(alice.principal, command_id)
            return command.state == "answered"

        try:
            await _wait_for(answered, "the command to be answered through worker B")
        except BaseException:
            print(f"worker B's log:\n{b.output()}")
            raise
        assert seen == [(3, "1")]
        async with platform.db.sessions() as session:
            claimed_by = (
                await session.execute(
                    text("SELECT claimed_by FROM commands WHERE request_id = :id"),
                    {"id": command_id},
                )
            ).scalar_one()
        # Worker ids are host:pid:random: B's process published it.
        assert f":{b.process.pid}:" in claimed_by
    finally:
        stop.set()
        device.join(5)
        with contextlib.suppress(Exception):
            client.client.disconnect()
