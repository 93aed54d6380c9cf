"""Ingest throughput: the core path, the HTTP endpoint and the raw driver baseline.

    .venv/bin/python -m benchmarks.ingest [--points N] [--devices D] [--batch B] [--clients C]
                                          [--repeat R] [--paths raw core http]
                                          [--backend sqlite|postgresql|both]

For each backend, the same rows (D devices x 3 metrics, 1-second spacing) are written three ways,
each into a fresh database:

  core  TelemetryService.ingest_for, one `platform.core()` unit of work per batch (as a
        transport does), in this process;
  http  POST /smartmocha/v0/device/{id}/data with B readings per request, against
        `thingport serve` in its own process, from C concurrent httpx clients whose bodies are
        serialised with orjson beforehand;
  raw   the driver alone on an identical `points` table, same batches, one transaction each:
        sqlite3 executemany (INSERT) for SQLite, asyncpg copy_records_to_table for PostgreSQL.

Each path runs R times (default 2) into a fresh database each time and the fastest run is
reported. Prints points/s and the ratios core/raw and http/raw. Times are reported, never
asserted: the exit code is 0 whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import orjson

from benchmarks._common import (
    PG_URL,
    RAW_PG_TABLE,
    bench_settings,
    create_devices,
    create_owner,
    free_port,
    fresh_database,
    libpq_dsn,
    load,
    machine,
    pg_problem,
    rate,
    ratio,
    raw_sqlite,
    recreate_pg_database,
    run,
    selected_backends,
    sqlite_path,
    table,
    tail,
    thingport_cli,
    thingport_command,
    wait_ready,
)
from benchmarks._common import add_backend_option as _add_backend_option
from thingport.core.devices.service import DeviceRef
from thingport.core.telemetry.schemas import Reading
from thingport.platform import Platform

METRICS = ("temperature", "humidity", "pressure")
T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
CORE_TARGET = 0.5  # core ingest >= half the raw driver rate
HTTP_SQLITE_TARGET = 100_000  # points/s through HTTP into SQLite


# -- the workload -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    device: int  # index into Workload.device_keys
    items: list[tuple[int, int, float]]  # (metric index, ts_ms, value)


@dataclass(frozen=True)
class Workload:
    device_keys: list[str]
    batches: list[Batch]

    @property
    def points(self) -> int:
        return sum(len(b.items) for b in self.batches)

    def raw_rows(self, batch: Batch) -> list[tuple[int, int, float]]:
        """Rows for the baseline table; series ids are numbered as the platform numbers them."""
        base = batch.device * len(METRICS) + 1
        return [(base + metric, ts, value) for metric, ts, value in batch.items]


def build_workload(points: int, devices: int, batch_size: int) -> Workload:
    """Each device sends its metrics in turn, one reading per metric per second; batches of
    `batch_size` consecutive readings of one device, interleaved round robin across devices."""
    per_device = [points // devices + (1 if i < points % devices else 0) for i in range(devices)]
    per_device_batches: list[list[Batch]] = []
    for device, count in enumerate(per_device):
        items = [
            (j % len(METRICS), T0_MS + (j // len(METRICS)) * 1000, 20.0 + (j % 977) * 0.01)
            for j in range(count)
        ]
        per_device_batches.append(
            [
                Batch(device, items[start : start + batch_size])
                for start in range(0, count, batch_size)
            ]
        )
    batches: list[Batch] = []
    for round_ in range(max(len(b) for b in per_device_batches)):
        batches.extend(b[round_] for b in per_device_batches if round_ < len(b))
    return Workload([f"BENCH-{i:04d}" for i in range(devices)], batches)


@dataclass
class Result:
    points: int = 0
    seconds: float = 0.0
    stored: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0


# -- (a) the core path --------------------------------------------------------------------------


async def bench_core(backend: str, workload: Workload, workdir: Path) -> Result:
    url = await fresh_database(backend, workdir, "core")
    platform = Platform(bench_settings(url, workdir))
    try:
        owner = await create_owner(platform)
        await create_devices(platform, owner, workload.device_keys)
        refs: list[DeviceRef] = []
        async with platform.core() as core:
            for key in workload.device_keys:
                refs.append(await core.devices.resolve(owner, key, change=True))
        seconds = 0.0
        for batch in workload.batches:
            # What a transport holds after parsing a message, built outside the clock and one
            # batch at a time: 300,000 live Reading objects would make every full garbage
            # collection in the timed code slower than it is in a server.
            device = refs[batch.device]
            readings = [Reading(key=METRICS[m], value=v, ts_ms=ts) for m, ts, v in batch.items]
            started = time.perf_counter()
            async with platform.core() as core:
                await core.telemetry.ingest_for(device, readings)
            seconds += time.perf_counter() - started
    finally:
        await platform.close()
    return Result(workload.points, seconds, stored=await count_points(backend, url))


async def count_points(backend: str, url: str) -> int:
    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(sqlite_path(url))) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM points").fetchone()[0])
    connection = await asyncpg.connect(libpq_dsn(url))
    try:
        return int(await connection.fetchval("SELECT COUNT(*) FROM points"))
    finally:
        await connection.close()


# -- (c) the raw baseline -----------------------------------------------------------------------


async def bench_raw(backend: str, workload: Workload, workdir: Path) -> Result:
    batches = [workload.raw_rows(b) for b in workload.batches]
    if backend == "sqlite":
        path = workdir / "raw.db"
        connection = raw_sqlite(path)
        try:
            sql = "INSERT INTO points (series_id, ts, value) VALUES (?, ?, ?)"
            started = time.perf_counter()
            for rows in batches:
                connection.execute("BEGIN")
                connection.executemany(sql, rows)
                connection.execute("COMMIT")
            seconds = time.perf_counter() - started
            stored = int(connection.execute("SELECT COUNT(*) FROM points").fetchone()[0])
        finally:
            connection.close()
        return Result(workload.points, seconds, stored)

    await recreate_pg_database(PG_URL)
    pg = await asyncpg.connect(libpq_dsn(PG_URL))
    try:
        await pg.execute(RAW_PG_TABLE)
        columns = ["series_id", "ts", "value"]
        started = time.perf_counter()
        for rows in batches:
            await pg.copy_records_to_table("points", records=rows, columns=columns)
        seconds = time.perf_counter() - started
        stored = int(await pg.fetchval("SELECT COUNT(*) FROM points"))
    finally:
        await pg.close()
    return Result(workload.points, seconds, stored)


# -- (b) the HTTP endpoint ----------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0.0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _server(location: Sequence[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [thingport_command(), "serve", "--no-demo", "--port", str(port), *location],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def bench_http(backend: str, workload: Workload, workdir: Path, clients: int) -> Result:
    data_dir = workdir / "http"
    log = workdir / "http-server.log"
    if backend == "sqlite":
        shutil.rmtree(data_dir, ignore_errors=True)
        location = ["--data-dir", str(data_dir)]
        url = f"sqlite+aiosqlite:///{data_dir / 'thingport.db'}"
    else:
        await recreate_pg_database(PG_URL)
        location = ["--database-url", PG_URL]
        url = PG_URL
    # The CLI migrates the fresh database before creating the user.
    thingport_cli(
        ["user", "create", "bench", "--email", "bench@example.com", "--password", "bench-pass"],
        location,
        log,
    )
    token = thingport_cli(["token", "create", "bench", "--name", "benchmark"], location, log)

    # Bodies serialised before the clock starts, so the client side is as cheap as it gets.
    bodies = [
        (
            f"/smartmocha/v0/device/{workload.device_keys[b.device]}/data",
            orjson.dumps([{"metric": METRICS[m], "value": v, "ts": ts} for m, ts, v in b.items]),
        )
        for b in workload.batches
    ]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    result = Result(workload.points)
    with _server(location, port, log) as process:
        await wait_ready(base, process, log)
        headers = {"content-type": "application/json"}
        auth = httpx.BasicAuth(token, "")
        async with httpx.AsyncClient(base_url=base, auth=auth, timeout=120) as setup:
            for key in workload.device_keys:
                answer = await setup.post("/smartmocha/v0/devices", json={"id": key})
                if answer.status_code != 201:
                    raise RuntimeError(f"device registration failed: {answer.text}")

        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        for item in bodies:
            queue.put_nowait(item)

        async def sender() -> None:
            async with httpx.AsyncClient(
                base_url=base, auth=auth, headers=headers, timeout=120
            ) as client:
                while True:
                    try:
                        path, body = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    try:
                        answer = await client.post(path, content=body)
                    except httpx.TransportError as error:
                        result.errors.append(f"{type(error).__name__}: {error}")
                        continue
                    if answer.status_code != 201:
                        result.errors.append(f"{answer.status_code} {answer.text[:200]}")

        server_cpu = _cpu_seconds(process.pid)
        client_cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(clients)))
        result.seconds = time.perf_counter() - started
        server_cpu = _cpu_seconds(process.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    result.notes.append(
        f"server process CPU {server_cpu / result.seconds:.0%} of one core, "
        f"client process CPU {client_cpu / result.seconds:.0%} of one core "
        f"(wall {result.seconds:.2f} s, {len(bodies)} requests, {clients} clients)"
    )
    result.stored = await count_points(backend, url)
    if result.errors:
        result.notes.append(f"server log tail:\n{tail(log)}")
    return result


# -- report -------------------------------------------------------------------------------------


def _status(result: Result | None, expected: int) -> str:
    if result is None:
        return "skipped"
    problems = []
    if result.errors:
        problems.append(f"{len(result.errors)} failed requests")
    if result.stored != expected:
        problems.append(f"stored {result.stored:,} of {expected:,}")
    return "; ".join(problems) or f"ok, {result.stored:,} stored"


def report(
    results: dict[str, dict[str, Result | None]], workload: Workload, skipped: dict[str, str]
) -> None:
    expected = workload.points
    rows = []
    for backend, by_path in results.items():
        raw = by_path.get("raw")
        for path in ("raw", "core", "http"):
            result = by_path.get(path)
            vs_raw = (
                ratio(result.rate / raw.rate)
                if result is not None and raw is not None and raw.rate
                else "-"
            )
            rows.append(
                [
                    backend,
                    path,
                    f"{result.seconds:.3f}" if result else "-",
                    rate(result.rate) if result else "-",
                    vs_raw,
                    _status(result, expected),
                ]
            )
    print()
    print(
        table(["backend", "path", "seconds", "points/s", "x raw", "check"], rows, right=(2, 3, 4))
    )
    for backend, reason in skipped.items():
        print(f"{backend}: skipped, {reason}")

    print()
    print("targets (information only, the exit code is 0 either way):")
    for backend, by_path in results.items():
        core, raw, http = by_path.get("core"), by_path.get("raw"), by_path.get("http")
        if core is not None and raw is not None and raw.rate:
            share = core.rate / raw.rate
            met = "MET" if share >= CORE_TARGET else "NOT MET"
            print(f"  {backend}: core/raw = {share:.2f} (target >= {CORE_TARGET}): {met}")
        if backend == "sqlite" and http is not None:
            met = "MET" if http.rate >= HTTP_SQLITE_TARGET else "NOT MET"
            print(
                f"  sqlite: http = {rate(http.rate)} points/s "
                f"(target >= {rate(HTTP_SQLITE_TARGET)}): {met}"
            )
    for backend, by_path in results.items():
        for path, result in by_path.items():
            if result is None:
                continue
            for note in result.notes:
                print(f"  {backend} {path}: {note}")
            for error in result.errors[:3]:
                print(f"  {backend} {path}: error {error}")


async def main(args: argparse.Namespace) -> None:
    workload = build_workload(args.points, args.devices, args.batch)
    print(f"ingest benchmark on {machine()}")
    print(
        f"{workload.points:,} points: {args.devices} devices x {len(METRICS)} metrics, "
        f"batches of {args.batch} ({len(workload.batches)} batches), "
        f"{args.clients} HTTP clients"
    )
    print(f"load average before: {load()} (other work on the machine skews every figure)")
    results: dict[str, dict[str, Result | None]] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="thingport-bench-") as tmp:
        workdir = Path(tmp)
        for backend in selected_backends(args.backend):
            if backend == "postgresql":
                problem = await pg_problem()
                if problem is not None:
                    skipped[backend] = f"PostgreSQL not reachable at {PG_URL}: {problem}"
                    print(f"postgresql: skipped, {skipped[backend]}")
                    continue
            by_path: dict[str, Result | None] = {}
            results[backend] = by_path
            for path in args.paths:
                runs: list[Result] = []
                for attempt in range(1, args.repeat + 1):
                    print(f"{backend}: {path} run {attempt}/{args.repeat} ...", end="", flush=True)
                    if path == "raw":
                        runs.append(await bench_raw(backend, workload, workdir))
                    elif path == "core":
                        runs.append(await bench_core(backend, workload, workdir))
                    else:
                        runs.append(await bench_http(backend, workload, workdir, args.clients))
                    print(f" {rate(runs[-1].rate)} points/s", flush=True)
                best = max(runs, key=lambda r: r.rate)
                if len(runs) > 1:
                    best.notes.insert(
                        0, "runs: " + ", ".join(f"{rate(r.rate)}" for r in runs) + " points/s"
                    )
                by_path[path] = best
    print(f"load average after: {load()}")
    report(results, workload, skipped)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--points", type=int, default=300_000, help="points per path")
    parser.add_argument("--devices", type=int, default=4, help="devices (3 metrics each)")
    parser.add_argument("--batch", type=int, default=1000, help="readings per batch / request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per path, the fastest is reported (default 2)"
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=("raw", "core", "http"),
        default=["raw", "core", "http"],
        help="what to measure (default all three)",
    )
    _add_backend_option(parser)
    args = parser.parse_args(argv)
    if min(args.points, args.devices, args.batch, args.clients, args.repeat) < 1:
        parser.error("--points, --devices, --batch, --clients and --repeat must be positive")
    return args


if __name__ == "__main__":
    run(main(parse_args()))
