"""MQTT ingest throughput: the platform next to the broker's raw rate, through Mosquitto or the
embedded broker.

    .venv/bin/python -m benchmarks.mqtt_ingest [--messages N] [--publishers P] [--devices D]
                                               [--values V] [--window W] [--repeat R]
                                               [--paths raw platform]
                                               [--raw-clients paho mosquitto_sub]
                                               [--broker own|system|embedded]
                                               [--backend sqlite|postgresql|both]

Publisher processes (paho, MQTT 3.1.1, QoS 1) send N telemetry messages of V values each
(`{"ts": ..., "values": {...}}`) to the native topics `thingport/v1/devices/{key}/telemetry` of
D devices, two ways in the same run:

  raw       a plain subscriber in its own process counts the messages; no database. Two
            subscribers by default, each in a run of its own: paho (MQTT 5 and the platform's
            shared-subscription filter on Mosquitto) and mosquitto_sub (the broker project's
            C client). The faster one is the broker's raw rate that ratios refer to: paho's
            receive path is slower than the platform's bridge. The clock runs from the
            publishers' start to the N-th message received.
  platform  `thingport serve` in its own process (fresh database; the user and its API token
            made by the CLI, the devices by the core) stores them. Through Mosquitto it runs
            with `--mqtt-url mqtt://127.0.0.1:PORT` (unique client id and share group); with
            `--broker embedded` its own broker listens on a free port and the publishers log in
            as the owner with the API token as password. The clock runs from the publishers'
            start until `SELECT COUNT(*) FROM points` shows every point committed.

Before each clock starts, every device sends one warm-up message and the run waits until it is
received (raw) or committed (platform): subscriptions are live and series exist.

The broker is by default a private `mosquitto` process on a free port with
`max_queued_messages 0` (no queue limit, everything else at its defaults), so nothing can be
dropped and no other client's traffic reaches the platform. `--broker system` uses the system
Mosquitto on 127.0.0.1:1883 instead, whose default `max_queued_messages 1000` makes it drop, and
still acknowledge to the publisher, any QoS 1 message beyond 1000 queued for a subscriber.
`--broker embedded` measures the broker inside `thingport serve`; that broker stores every
publish before passing it on, so its raw rate is taken from a standalone amqtt process (the
same software, anonymous, no plugins) on a free port, subscribed over MQTT 3.1.1.

Either way the publishers are paced by a window: at most W messages may be published and not yet
received (raw) or committed (platform). Progress is read from the subscriber's counter, or every
5 ms from `series.last_ts` in the platform's database (message i of a device carries time
T0 + i s, so last_ts tells how many of its messages are committed). On the system broker W is
800 and platform progress opens the window only 50 ms after it is seen, so the acknowledgements
that follow a commit have reached the broker. The stored count is checked against N x V.

Prints messages/s, points/s and the ratio platform/raw. Times are reported, never asserted: the
exit code is 0 whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks._common import (
    BACKENDS,
    PG_URL,
    create_devices,
    free_port,
    libpq_dsn,
    load,
    machine,
    pg_problem,
    rate,
    ratio,
    recreate_pg_database,
    run,
    selected_backends,
    table,
    tail,
    thingport_cli,
    thingport_command,
    wait_ready,
)
from thingport.core.accounts.schemas import Principal
from thingport.platform import Platform
from thingport.settings import Settings

HOST = "127.0.0.1"
SYSTEM_PORT = 1883
SYSTEM_PID_FILE = Path("/run/mosquitto/mosquitto.pid")
TOPIC_FILTER = "thingport/v1/devices/+/telemetry"
METRICS = ("temperature", "humidity", "pressure")
T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z; message i of a device is at T0 + i seconds
MESSAGES_TARGET = 10_000  # messages/s through Mosquitto (30,000 points/s at 3 values)
RAW_TARGET = 0.5  # platform >= half the broker's raw rate
STALL_S = 30.0  # no progress for this long ends a run as incomplete
WINDOW_LIMITED = 800  # default window under a queue limit of 1000
WINDOW_UNLIMITED = 5000  # default window with max_queued_messages 0
RAW_CLIENTS = {"paho": "paho subscriber", "mosquitto_sub": "mosquitto_sub, C"}
CREDIT_DELAY_S = 0.05  # platform progress opens the window this much later (queue limit only)


# -- processes ----------------------------------------------------------------------------------
# (the same small helpers as benchmarks/ingest.py, kept here so the two scripts change apart)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0.0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the workload -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """What one publisher process sends; the messages are built in that process."""

    index: int
    publishers: int
    host: str
    port: int
    tag: str  # unique per run: device keys and client ids
    messages: int  # timed messages in total, all publishers
    devices: int
    values: int
    username: str | None = None  # the embedded broker wants a user and an API token
    password: str | None = None


def metric_names(values: int) -> list[str]:
    return [METRICS[i] if i < len(METRICS) else f"m{i}" for i in range(values)]


def device_key(tag: str, device: int) -> str:
    return f"{tag}-{device:05d}"


def payload(index: int, device: int, names: Sequence[str]) -> bytes:
    """Message `index` of a device: its time is T0 + index seconds (the warm-up is index 0)."""
    values = {
        name: round(20.0 + ((index * 7 + device + k * 13) % 977) * 0.01, 2)
        for k, name in enumerate(names)
    }
    return orjson.dumps({"ts": T0_MS + index * 1000, "values": values})


def timed_messages(spec: Spec) -> list[tuple[int, str, bytes]]:
    """(global sequence, topic, payload) of this publisher's timed messages. Timed message g goes
    to device g % D as that device's message g // D + 1; device d belongs to publisher d % P, so
    each device's messages leave one connection in order."""
    names = metric_names(spec.values)
    topics = [
        f"thingport/v1/devices/{device_key(spec.tag, d)}/telemetry" for d in range(spec.devices)
    ]
    out = []
    for g in range(spec.messages):
        device = g % spec.devices
        if device % spec.publishers == spec.index:
            out.append((g, topics[device], payload(g // spec.devices + 1, device, names)))
    return out


def warmup_messages(spec: Spec) -> list[tuple[str, bytes]]:
    names = metric_names(spec.values)
    return [
        (f"thingport/v1/devices/{device_key(spec.tag, d)}/telemetry", payload(0, d, names))
        for d in range(spec.index, spec.devices, spec.publishers)
    ]


# -- shared state between the controller and its child processes -------------------------------


class Shared:
    """Counters in shared memory. Each has one writer, so reads and writes need no lock."""

    def __init__(self, ctx: Any, publishers: int) -> None:
        self.limit = ctx.RawValue("q", 0)  # publishers send timed message g only while g < limit
        self.go = ctx.Event()  # publishers start the timed messages
        self.stop = ctx.RawValue("b", 0)  # the subscriber leaves
        self.ready = ctx.RawArray("b", publishers)  # publisher i connected and warmed up
        self.finished = ctx.RawArray("d", publishers)  # monotonic time of its last PUBACK
        self.failed = ctx.RawArray("b", publishers)
        self.received = ctx.RawValue("q", 0)  # raw subscriber: messages received
        self.subscribed = ctx.RawValue("b", 0)


def publisher_main(spec: Spec, shared: Shared) -> None:
    """One publisher process: connect, send the warm-up, then the timed messages inside the
    window, and wait for every PUBACK."""
    try:
        _publish(spec, shared)
    except BaseException:
        shared.failed[spec.index] = 1
        raise


def _publish(spec: Spec, shared: Shared) -> None:
    messages = timed_messages(spec)
    warmup = warmup_messages(spec)
    acked = [0]
    connected = [False]

    def on_connect(*_args: object) -> None:
        connected[0] = True

    def on_publish(*_args: object) -> None:
        acked[0] += 1

    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{spec.tag}-pub{spec.index}",
        protocol=paho.MQTTv311,
        clean_session=True,
    )
    client.on_connect = on_connect
    client.on_publish = on_publish
    if spec.username is not None:
        client.username_pw_set(spec.username, spec.password)
    client.max_inflight_messages_set(0)  # no client-side limit: the window paces
    # No network thread: publish() writes to the socket at once, loop() reads the PUBACKs.
    client.connect(spec.host, spec.port, keepalive=120)
    deadline = time.monotonic() + 10
    while not connected[0]:
        if time.monotonic() > deadline:
            raise RuntimeError("publisher could not connect")
        client.loop(0.05)
    for topic, body in warmup:
        client.publish(topic, body, qos=1)
    while acked[0] < len(warmup):
        client.loop(0.05)
    shared.ready[spec.index] = 1
    while not shared.go.wait(0.05):
        client.loop(0)
    limit = shared.limit
    total = len(warmup) + len(messages)
    for n, (g, topic, body) in enumerate(messages):
        while g >= limit.value:
            client.loop(0.0005)
        client.publish(topic, body, qos=1)
        if n & 63 == 0:
            client.loop(0)
    while acked[0] < total:
        client.loop(0.01)
    shared.finished[spec.index] = time.monotonic()
    client.disconnect()


def subscriber_main(
    host: str, port: int, client_id: str, subscription: str, mqtt5: bool, shared: Shared
) -> None:
    """The raw baseline: a plain paho subscriber that only counts (QoS 1, acked by paho)."""
    received = shared.received

    def on_connect(client: paho.Client, *_args: object) -> None:
        client.subscribe(subscription, qos=1)

    def on_subscribe(*_args: object) -> None:
        shared.subscribed.value = 1

    def on_message(*_args: object) -> None:
        received.value += 1

    protocol = paho.MQTTv5 if mqtt5 else paho.MQTTv311
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    if mqtt5:
        client.connect(host, port, clean_start=True)  # session expiry 0: gone at disconnect
    else:
        client.connect(host, port)  # clean session
    while not shared.stop.value:
        client.loop(0.01)
    client.disconnect()


# -- brokers ------------------------------------------------------------------------------------


@dataclass
class Broker:
    port: int
    pid: int | None  # for CPU accounting
    label: str
    queue_limit: int | None  # max_queued_messages per subscriber; None: no limit
    # The raw run uses the broker above; "embedded" platform runs use the broker inside
    # `thingport serve` instead (the one above is then a standalone amqtt, same software).
    embedded: bool = False


@contextlib.contextmanager
def broker(kind: str, workdir: Path) -> Iterator[Broker]:
    """A private mosquitto process with `max_queued_messages 0` (everything else at its
    defaults) on a free port, the system Mosquitto on 1883 (max_queued_messages 1000), or for
    the embedded broker a standalone amqtt (anonymous) for the raw baseline."""
    if kind == "embedded":
        with _amqtt(workdir) as standalone:
            yield standalone
        return
    if kind == "system":
        pid = None
        with contextlib.suppress(OSError, ValueError):
            pid = int(SYSTEM_PID_FILE.read_text().strip())
        yield Broker(SYSTEM_PORT, pid, f"system Mosquitto {HOST}:{SYSTEM_PORT}", 1000)
        return
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\n"
    )
    log_path = workdir / "mosquitto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start:\n{tail(log_path)}")
            time.sleep(0.05)
        label = f"own mosquitto {HOST}:{port} (max_queued_messages 0, other settings default)"
        yield Broker(port, process.pid, label, None)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _amqtt(workdir: Path) -> Iterator[Broker]:
    """amqtt, the embedded broker's software, as a plain broker of its own: anonymous, no
    plugins, nothing stored. The embedded broker cannot be measured without Thingport (it
    stores every publish before passing it on), so this is its raw rate."""
    port = free_port()
    conf = workdir / "amqtt.yaml"
    conf.write_text(
        f"listeners:\n  default:\n    type: tcp\n    bind: {HOST}:{port}\n"
        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
        "    allow_anonymous: true\n"
    )
    log_path = workdir / "amqtt.log"
    amqtt_cli = str(Path(sys.executable).with_name("amqtt"))
    with log_path.open("wb") as log:
        process = subprocess.Popen([amqtt_cli, "-c", str(conf)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"amqtt did not start:\n{tail(log_path)}")
            time.sleep(0.05)
        label = (
            f"embedded (amqtt {version('amqtt')} inside thingport serve); raw: standalone amqtt "
            f"{HOST}:{port}, anonymous, no plugins"
        )
        yield Broker(port, process.pid, label, None, embedded=True)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- results ------------------------------------------------------------------------------------


@dataclass
class Result:
    messages: int
    values: int
    seconds: float = 0.0
    publish_seconds: float = 0.0  # until the publishers had every PUBACK
    received: int = 0  # raw: messages counted; platform: timed points stored
    complete: bool = False
    cpu: dict[str, float] = field(default_factory=dict)  # process -> share of one core
    notes: list[str] = field(default_factory=list)

    @property
    def message_rate(self) -> float:
        return self.messages / self.seconds if self.seconds and self.complete else 0.0

    @property
    def point_rate(self) -> float:
        return self.message_rate * self.values


class Processes:
    """CPU time of the processes taking part, from /proc."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.start = {name: sum(_cpu_seconds(p) for p in ps) for name, ps in pids.items()}

    def shares(self, seconds: float) -> dict[str, float]:
        return {
            name: (sum(_cpu_seconds(p) for p in ps) - self.start[name]) / seconds
            for name, ps in self.pids.items()
            if seconds > 0
        }


def _start_publishers(
    ctx: Any,
    args: argparse.Namespace,
    port: int,
    tag: str,
    shared: Shared,
    credentials: tuple[str, str] | None = None,
) -> list[mp.process.BaseProcess]:
    processes = []
    username, password = credentials or (None, None)
    for index in range(args.publishers):
        spec = Spec(
            index,
            args.publishers,
            HOST,
            port,
            tag,
            args.messages,
            args.devices,
            args.values,
            username,
            password,
        )
        process = ctx.Process(target=publisher_main, args=(spec, shared), daemon=True)
        process.start()
        processes.append(process)
    return processes


async def _wait_publishers_ready(
    shared: Shared, processes: Sequence[mp.process.BaseProcess]
) -> None:
    deadline = time.monotonic() + 120
    while not all(shared.ready):
        if any(shared.failed) or any(not p.is_alive() for p in processes):
            raise RuntimeError("a publisher process failed before the start")
        if time.monotonic() > deadline:
            raise RuntimeError("the publishers did not get ready")
        await asyncio.sleep(0.01)


def _stop_processes(processes: Sequence[mp.process.BaseProcess]) -> None:
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


async def _drive(
    shared: Shared,
    args: argparse.Namespace,
    progress: Callable[[], Awaitable[int]],
    interval: float,
    credit_delay: float = 0.0,
) -> tuple[float, int, bool]:
    """Start the clock and the publishers; keep the window open from `progress()` (timed
    messages received or committed) until it reaches N. Progress is credited to the window only
    `credit_delay` seconds after it was seen (the platform acknowledges a batch after its
    commit). Returns (seconds, last progress, complete)."""
    shared.limit.value = args.window
    started = time.monotonic()
    shared.go.set()
    done = credited = 0
    last_change = started
    seen: deque[tuple[float, int]] = deque()
    while done < args.messages:
        await asyncio.sleep(interval)
        now_done = await progress()
        now = time.monotonic()
        if now_done != done:
            done, last_change = now_done, now
            seen.append((now, done))
        elif now - last_change > STALL_S:
            return now - started, done, False
        while seen and seen[0][0] <= now - credit_delay:
            credited = seen.popleft()[1]
        shared.limit.value = credited + args.window
        if any(shared.failed):
            return now - started, done, False
    return time.monotonic() - started, done, True


def _publish_seconds(shared: Shared, started: float, seconds: float) -> float:
    finished = list(shared.finished)
    return max(finished) - started if all(finished) else seconds


# -- (a) the broker's raw rate ------------------------------------------------------------------


class CSubscriber:
    """mosquitto_sub, the broker project's own C client, as the raw subscriber: it prints one
    short line per message, which a thread here counts into the shared counter. paho's
    receive path costs more CPU per message than the platform's bridge now does, so a paho
    subscriber measures paho more than the broker."""

    def __init__(self, mqtt: Broker, client_id: str, subscription: str, shared: Shared) -> None:
        version_flag = "mqttv311" if mqtt.embedded else "mqttv5"
        self.process = subprocess.Popen(
            ["mosquitto_sub", "-h", HOST, "-p", str(mqtt.port), "-i", client_id, "-q", "1",
             "-V", version_flag, "-t", subscription, "-F", "."],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        self.pid = self.process.pid
        self.shared = shared
        self._reader = threading.Thread(target=self._count, daemon=True)
        self._reader.start()
        self._started = time.monotonic()

    def _count(self) -> None:
        assert self.process.stdout is not None
        received = self.shared.received
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            received.value += chunk.count(b"\n")

    def is_alive(self) -> bool:
        # No SUBACK to watch from outside: a second after the start it has long subscribed
        # on a local broker.
        if time.monotonic() - self._started > 1.0:
            self.shared.subscribed.value = 1
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)


async def bench_raw(args: argparse.Namespace, mqtt: Broker, client: str = "paho") -> Result:
    ctx = mp.get_context("spawn")
    shared = Shared(ctx, args.publishers)
    tag = f"mqb{secrets.token_hex(3)}"
    result = Result(args.messages, args.values)
    # amqtt speaks MQTT 3.1.1 only: no shared subscriptions there.
    subscription = TOPIC_FILTER if mqtt.embedded else f"$share/{tag}-raw/{TOPIC_FILTER}"
    subscriber: Any
    if client == "mosquitto_sub":
        subscriber = CSubscriber(mqtt, f"{tag}-rawsub", subscription, shared)
    else:
        subscriber = ctx.Process(
            target=subscriber_main,
            args=(HOST, mqtt.port, f"{tag}-rawsub", subscription, not mqtt.embedded, shared),
            daemon=True,
        )
        subscriber.start()
    publishers: list[mp.process.BaseProcess] = []
    try:
        deadline = time.monotonic() + 30
        while not shared.subscribed.value:
            if not subscriber.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the raw subscriber did not subscribe")
            await asyncio.sleep(0.01)
        publishers = _start_publishers(ctx, args, mqtt.port, tag, shared)
        await _wait_publishers_ready(shared, publishers)
        deadline = time.monotonic() + 60
        while shared.received.value < args.devices:  # the warm-up messages
            if time.monotonic() > deadline:
                raise RuntimeError("the raw subscriber did not receive the warm-up")
            await asyncio.sleep(0.01)
        base = shared.received.value

        async def progress() -> int:
            return int(shared.received.value - base)

        cpu = Processes(_pids(mqtt, subscriber=subscriber.pid, publishers=publishers))
        started = time.monotonic()
        seconds, done, complete = await _drive(shared, args, progress, 0.001)
        result.cpu = cpu.shares(seconds)
        result.seconds, result.complete = seconds, complete
        result.publish_seconds = _publish_seconds(shared, started, seconds)
        _stop_processes(publishers)
        await asyncio.sleep(0.2)  # duplicates, if any, would show up now
        result.received = int(shared.received.value) - base
        result.complete = complete and result.received == args.messages
        if not complete:
            result.notes.append(f"stalled at {done:,} of {args.messages:,} messages")
    finally:
        shared.go.set()
        _stop_processes(publishers)
        shared.stop.value = 1
        if isinstance(subscriber, CSubscriber):
            subscriber.stop()
        else:
            subscriber.join(timeout=10)
            if subscriber.is_alive():
                subscriber.terminate()
    return result


def _pids(
    mqtt: Broker,
    *,
    publishers: Sequence[mp.process.BaseProcess],
    subscriber: int | None = None,
    server: int | None = None,
    broker: bool = True,
) -> dict[str, list[int]]:
    pids: dict[str, list[int]] = {"publishers": [p.pid for p in publishers if p.pid]}
    if mqtt.pid is not None and broker:
        pids["amqtt" if mqtt.embedded else "mosquitto"] = [mqtt.pid]
    if subscriber is not None:
        pids["subscriber"] = [subscriber]
    if server is not None:
        pids["server"] = [server]
    return pids


# -- (b) the platform ---------------------------------------------------------------------------


class PointCounter:
    """Reads the platform's database from outside: committed progress and COUNT(*)."""

    def __init__(self, backend: str, url: str, values: int) -> None:
        self.backend = backend
        self.url = url
        self.values = values
        self._sqlite: sqlite3.Connection | None = None
        self._pg: asyncpg.Connection | None = None
        # Every series of a device has the device's latest committed time: T0 + i seconds after
        # its message i; the warm-up is message 0.
        self._progress_sql = (
            f"SELECT COALESCE(SUM((last_ts - {T0_MS}) / 1000), 0) FROM series "
            "WHERE last_ts IS NOT NULL"
        )

    async def open(self) -> None:
        if self.backend == "sqlite":
            path = self.url.split(":///", 1)[1]
            self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            self._pg = await asyncpg.connect(libpq_dsn(self.url))

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()

    async def _scalar(self, sql: str) -> int:
        if self._sqlite is not None:
            return int(self._sqlite.execute(sql).fetchone()[0])
        assert self._pg is not None
        return int(await self._pg.fetchval(sql))

    async def committed_messages(self) -> int:
        """Timed messages committed, from series.last_ts (cheap: one row per series)."""
        return await self._scalar(self._progress_sql) // self.values

    async def points(self) -> int:
        return await self._scalar("SELECT COUNT(*) FROM points")


@contextlib.contextmanager
def _server(
    location: Sequence[str], port: int, mqtt: Sequence[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [thingport_command(), "serve", "--no-demo", "--port", str(port), *mqtt, *location],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def end_session(port: int, client_id: str) -> str:
    """Remove the platform's persistent session from the broker: connect with its client id and
    clean start, leave with session expiry 0."""
    connected: list[object] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.append(reason)
    client.connect(HOST, port, clean_start=True)
    deadline = time.monotonic() + 10
    while not connected and time.monotonic() < deadline:
        client.loop(0.05)
    properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0
    client.disconnect(properties=properties)
    client.loop(0.1)
    return f"session {client_id} ended ({connected[0] if connected else 'no CONNACK'})"


async def _make_devices(url: str, workdir: Path, keys: Sequence[str]) -> None:
    platform = Platform(
        Settings(database_url=url, data_dir=workdir, demo=False, virtual_devices=False)
    )
    try:
        async with platform.core() as core:
            user = await core.accounts.get_user("bench")
        await create_devices(platform, Principal(user_id=user.id, username="bench"), keys)
    finally:
        await platform.close()


async def bench_platform(
    backend: str, args: argparse.Namespace, mqtt: Broker, workdir: Path
) -> Result:
    tag = f"mqb{secrets.token_hex(3)}"
    data_dir = workdir / f"platform-{tag}"
    log = workdir / f"server-{tag}.log"
    if backend == "sqlite":
        location = ["--data-dir", str(data_dir)]
        url = f"sqlite+aiosqlite:///{data_dir / 'thingport.db'}"
    else:
        await recreate_pg_database(PG_URL)
        location = ["--database-url", PG_URL]
        url = PG_URL
    # The CLI migrates the fresh database and creates the owner; the core creates the devices.
    thingport_cli(
        ["user", "create", "bench", "--email", "bench@example.com", "--password", "bench-pass"],
        location,
        log,
    )
    await _make_devices(url, data_dir, [device_key(tag, d) for d in range(args.devices)])
    if mqtt.embedded:
        # Publishers log in to the embedded broker as the owner, an API token as password.
        token = thingport_cli(["token", "create", "bench"], location, log)
        mqtt_port = free_port()
        mqtt_args = ["--mqtt-port", str(mqtt_port)]
        credentials: tuple[str, str] | None = ("bench", token)
    else:
        mqtt_port = mqtt.port
        mqtt_args = ["--mqtt-url", f"mqtt://{HOST}:{mqtt.port}"]
        credentials = None

    client_id = f"{tag}-platform"
    env = {
        "THINGPORT_MQTT_CLIENT_ID": client_id,
        "THINGPORT_MQTT_SHARE_GROUP": f"{tag}-group",
        "THINGPORT_VIRTUAL_DEVICES": "false",
    }
    result = Result(args.messages, args.values)
    expected = args.messages * args.values
    warm_points = args.devices * args.values
    counter = PointCounter(backend, url, args.values)
    ctx = mp.get_context("spawn")
    shared = Shared(ctx, args.publishers)
    publishers: list[mp.process.BaseProcess] = []
    http_port = free_port()
    # With a queue limit, progress counts only once the acknowledgements had time to follow.
    credit_delay = CREDIT_DELAY_S if mqtt.queue_limit is not None else 0.0
    try:
        with _server(location, http_port, mqtt_args, env, log) as server:
            await wait_ready(f"http://{HOST}:{http_port}", server, log)
            await counter.open()
            publishers = _start_publishers(ctx, args, mqtt_port, tag, shared, credentials)
            await _wait_publishers_ready(shared, publishers)
            deadline = time.monotonic() + 60
            while await counter.points() < warm_points:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the warm-up was not stored:\n{tail(log)}")
                await asyncio.sleep(0.02)

            cpu = Processes(
                _pids(mqtt, server=server.pid, publishers=publishers, broker=not mqtt.embedded)
            )
            started = time.monotonic()
            seconds, done, complete = await _drive(
                shared, args, counter.committed_messages, 0.005, credit_delay
            )
            # Every message is committed by last_ts; the clock stops when COUNT(*) agrees.
            stored = await counter.points() - warm_points
            while complete and stored < expected and time.monotonic() - started < seconds + 10:
                await asyncio.sleep(0.005)
                stored = await counter.points() - warm_points
            seconds = time.monotonic() - started
            result.cpu = cpu.shares(seconds)
            result.seconds = seconds
            result.publish_seconds = _publish_seconds(shared, started, seconds)
            _stop_processes(publishers)
            result.received = await counter.points() - warm_points
            result.complete = complete and result.received == expected
            if not complete:
                result.notes.append(f"stalled at {done:,} of {args.messages:,} messages")
    finally:
        shared.go.set()
        _stop_processes(publishers)
        await counter.close()
        if not mqtt.embedded:
            with contextlib.suppress(OSError):
                result.notes.append(end_session(mqtt.port, client_id))
        if backend == "sqlite":
            shutil.rmtree(data_dir, ignore_errors=True)
    rejected = [line for line in log.read_text().splitlines() if "rejected MQTT message" in line]
    ours = [line for line in rejected if tag in line]
    if ours:
        result.notes.append(f"the server rejected {len(ours):,} of the benchmark's messages:")
        result.notes.extend(f"  {line[:300]}" for line in ours[:3])
    if len(rejected) > len(ours):
        result.notes.append(
            f"the server also rejected {len(rejected) - len(ours):,} messages of other clients "
            "of the broker (not part of the figures), e.g."
        )
        result.notes.append(f"  {next(line for line in rejected if tag not in line)[:300]}")
    if not result.complete:
        log_tail = "\n".join(line for line in tail(log).splitlines() if "rejected MQTT" not in line)
        result.notes.append(f"server log tail:\n{log_tail}")
    return result


# -- report -------------------------------------------------------------------------------------


def _check(result: Result, path: str) -> str:
    if path == "raw":
        expected = result.messages
        what = f"{result.received:,} received of {expected:,} messages"
    else:
        expected = result.messages * result.values
        what = (
            f"{result.received:,} points stored = {result.messages:,} x {result.values}"
            if result.received == expected
            else f"{result.received:,} points stored of {expected:,}"
        )
    return ("ok, " if result.complete and result.received == expected else "FAILED, ") + what


def _row(label: str, path: str, result: Result, raw: Result | None) -> list[str]:
    share = (
        ratio(result.message_rate / raw.message_rate)
        if raw is not None and raw.message_rate and result.message_rate
        else "-"
    )
    publish = result.messages / result.publish_seconds if result.publish_seconds else 0.0
    return [
        label,
        f"{result.seconds:.2f}",
        rate(result.message_rate),
        rate(result.point_rate),
        share,
        rate(publish),
        _check(result, path),
    ]


def report(raws: dict[str, Result], platforms: dict[str, Result], skipped: dict[str, str]) -> None:
    # The broker's raw rate is the best any of the plain subscribers got out of it.
    raw = max(raws.values(), key=lambda r: r.message_rate) if raws else None
    rows = [
        _row(f"broker raw ({RAW_CLIENTS[client]})", "raw", result, raw)
        for client, result in raws.items()
    ]
    for backend, result in platforms.items():
        rows.append(_row(f"platform, {backend}", "platform", result, raw))
    headers = ["path", "seconds", "messages/s", "points/s", "x raw", "published/s", "check"]
    print()
    print(table(headers, rows, right=(1, 2, 3, 4, 5)))
    for backend, reason in skipped.items():
        print(f"{backend}: skipped, {reason}")
    print()
    print("targets (information only, the exit code is 0 either way):")
    for backend, result in platforms.items():
        met = "MET" if result.message_rate >= MESSAGES_TARGET else "NOT MET"
        print(
            f"  {backend}: platform {rate(result.message_rate)} messages/s "
            f"(target >= {rate(MESSAGES_TARGET)}): {met}"
        )
        if raw is not None and raw.message_rate:
            of_raw = result.message_rate / raw.message_rate
            met = "MET" if of_raw >= RAW_TARGET else "NOT MET"
            print(f"  {backend}: platform/raw = {of_raw:.2f} (target >= {RAW_TARGET}): {met}")
    print()
    print("CPU during the clock, share of one core (2 cores = 200%), and notes:")
    labelled = [(f"raw {client}", result) for client, result in raws.items()] + [
        (f"platform {b}", r) for b, r in platforms.items()
    ]
    for label, result in labelled:
        shares = ", ".join(f"{name} {value:.0%}" for name, value in result.cpu.items())
        print(f"  {label}: {shares or '-'}")
        for note in result.notes:
            print(f"  {label}: {note}")


async def _attempt(label: str, job: Awaitable[Result], failed: Result) -> Result:
    print(f"{label} ...", end="", flush=True)
    try:
        result = await job
    except RuntimeError as error:  # reported, not raised: the other runs still count
        failed.notes.append(f"failed: {error}")
        result = failed
    print(f" {rate(result.message_rate)} messages/s", flush=True)
    return result


async def main(args: argparse.Namespace) -> None:
    print(f"MQTT ingest benchmark on {machine()}")
    print(
        f"{args.messages:,} messages x {args.values} values = {args.messages * args.values:,} "
        f"points per run, {args.devices} devices, {args.publishers} publisher "
        f"process{'es' if args.publishers > 1 else ''} (QoS 1), "
        f"window {args.window:,} messages, best of {args.repeat}"
    )
    print(f"load average before: {load()} (other work on the machine skews every figure)")
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="thingport-mqtt-bench-") as tmp:
        workdir = Path(tmp)
        with broker(args.broker, workdir) as mqtt:
            print(f"broker: {mqtt.label}")
            backends = []
            for backend in selected_backends(args.backend):
                if backend == "postgresql":
                    problem = await pg_problem()
                    if problem is not None:
                        skipped[backend] = f"PostgreSQL not reachable at {PG_URL}: {problem}"
                        print(f"postgresql: skipped, {skipped[backend]}")
                        continue
                backends.append(backend)
            raws: dict[str, list[Result]] = {c: [] for c in args.raw_clients}
            runs: dict[str, list[Result]] = {b: [] for b in backends}
            for attempt in range(1, args.repeat + 1):
                count = f"run {attempt}/{args.repeat}"
                for client in args.raw_clients if "raw" in args.paths else []:
                    raws[client].append(
                        await _attempt(
                            f"broker raw, {client} {count}",
                            bench_raw(args, mqtt, client),
                            Result(args.messages, args.values),
                        )
                    )
                for backend in backends if "platform" in args.paths else []:
                    runs[backend].append(
                        await _attempt(
                            f"{backend}: platform {count}",
                            bench_platform(backend, args, mqtt, workdir),
                            Result(args.messages, args.values),
                        )
                    )
    print(f"load average after: {load()}")
    platforms = {b: _best(r) for b, r in runs.items() if r}
    report({c: _best(r) for c, r in raws.items() if r}, platforms, skipped)


def _best(runs: list[Result]) -> Result:
    best = max(runs, key=lambda r: r.message_rate)
    if len(runs) > 1:
        best.notes.insert(
            0, "runs: " + ", ".join(rate(r.message_rate) for r in runs) + " messages/s"
        )
    return best


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mqtt_ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--messages", type=int, default=60_000, help="timed messages per run (default 60,000)"
    )
    parser.add_argument("--publishers", type=int, default=1, help="publisher processes (default 1)")
    parser.add_argument("--devices", type=int, default=100, help="devices (topics; default 100)")
    parser.add_argument("--values", type=int, default=3, help="values per message (default 3)")
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help=f"messages published and not yet received/committed, at most (default "
        f"{WINDOW_UNLIMITED} with --broker own; {WINDOW_LIMITED} with --broker system, under its "
        "max_queued_messages of 1000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each path, the fastest is reported (default 1)",
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=("raw", "platform"),
        default=["raw", "platform"],
        help="what to measure (default both)",
    )
    parser.add_argument(
        "--broker",
        choices=("system", "own", "embedded"),
        default="own",
        help="own (default): a private mosquitto process on a free port, max_queued_messages 0, "
        "other settings at their defaults, no other traffic; system: the system Mosquitto on "
        "127.0.0.1:1883 (max_queued_messages 1000: a message over it is dropped); embedded: "
        "the platform's own broker (thingport serve --mqtt-port), publishers log in with an API "
        "token; raw baseline: a standalone amqtt",
    )
    parser.add_argument(
        "--raw-clients",
        nargs="+",
        choices=tuple(RAW_CLIENTS),
        default=list(RAW_CLIENTS) if shutil.which("mosquitto_sub") else ["paho"],
        help="plain subscribers for the raw rate (default both; the fastest is the reference)",
    )
    parser.add_argument(
        "--backend",
        choices=(*BACKENDS, "both"),
        default="sqlite",
        help="database backend(s) of the platform (default sqlite)",
    )
    args = parser.parse_args(argv)
    if args.window is None:
        args.window = WINDOW_LIMITED if args.broker == "system" else WINDOW_UNLIMITED
    if min(args.messages, args.publishers, args.devices, args.values, args.window, args.repeat) < 1:
        parser.error("every count must be positive")
    if args.devices < args.publishers:
        parser.error("--devices must be at least --publishers (a device has one publisher)")
    return args


if __name__ == "__main__":
    run(main(parse_args()))
