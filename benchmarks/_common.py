"""Shared helpers of the benchmarks: fresh databases built by the real migrations, tables."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform as host
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

from thingport.core.accounts.schemas import Principal, UserCreate
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform
from thingport.settings import Settings
from thingport.storage.engine import build_engine
from thingport.storage.migrate import upgrade

T = TypeVar("T")

BACKENDS = ("sqlite", "postgresql")
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/thingport_bench"
PG_URL = os.environ.get("THINGPORT_BENCH_POSTGRES", DEFAULT_PG_URL)

# The platform's SQLite settings (storage.engine._sqlite_pragmas), applied to the raw baselines
# too, so that both sides pay for the same durability.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
)
RAW_SQLITE_TABLE = (
    "CREATE TABLE points (series_id INTEGER NOT NULL, ts BIGINT NOT NULL, value FLOAT NOT NULL, "
    "CONSTRAINT pk_points PRIMARY KEY (series_id, ts)) WITHOUT ROWID"
)
RAW_PG_TABLE = (
    "CREATE TABLE points (series_id INTEGER NOT NULL, ts BIGINT NOT NULL, "
    "value DOUBLE PRECISION NOT NULL, CONSTRAINT pk_points PRIMARY KEY (series_id, ts))"
)


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=(*BACKENDS, "both"),
        default="both",
        help="database backend(s) to measure (default both)",
    )


def selected_backends(choice: str) -> list[str]:
    return list(BACKENDS) if choice == "both" else [choice]


def libpq_dsn(url: str) -> str:
    """The SQLAlchemy URL as a DSN asyncpg understands."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def pg_database_name(url: str) -> str:
    return libpq_dsn(url).rsplit("/", 1)[1].split("?", 1)[0]


def pg_admin_dsn(url: str) -> str:
    """The same server, database `postgres`: where CREATE/DROP DATABASE run."""
    return libpq_dsn(url).rsplit("/", 1)[0] + "/postgres"


async def pg_problem(url: str = PG_URL) -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        connection = await asyncpg.connect(pg_admin_dsn(url), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


async def recreate_pg_database(url: str = PG_URL) -> None:
    name = pg_database_name(url)
    connection = await asyncpg.connect(pg_admin_dsn(url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def migrate(url: str) -> None:
    engine = build_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def fresh_database(backend: str, workdir: Path, label: str) -> str:
    """A new, empty, migrated database; returns its SQLAlchemy URL."""
    if backend == "sqlite":
        path = workdir / f"{label}.db"
        remove_sqlite(path)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        await recreate_pg_database(PG_URL)
        url = PG_URL
    await migrate(url)
    return url


def sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def raw_sqlite(path: Path) -> sqlite3.Connection:
    remove_sqlite(path)
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(pragma)
    connection.execute(RAW_SQLITE_TABLE)
    return connection


def bench_settings(url: str, workdir: Path) -> Settings:
    return Settings(database_url=url, data_dir=workdir, demo=False, virtual_devices=False)


async def create_owner(platform: Platform, username: str = "bench") -> Principal:
    async with platform.core() as core:
        user = await core.accounts.create_user(
            UserCreate(username=username, email=f"{username}@example.com", password=None)
        )
    return Principal(user_id=user.id, username=username)


async def create_devices(platform: Platform, owner: Principal, keys: Sequence[str]) -> None:
    async with platform.core() as core:
        for key in keys:
            await core.devices.create(owner, DeviceCreate(key=key, name=key))


@dataclass(frozen=True)
class Timings:
    seconds: list[float]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def machine() -> str:
    return (
        f"{host.system()} {host.machine()}, {os.cpu_count()} CPUs, Python "
        f"{host.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A plain-text table; columns in `right` are right-aligned (numbers)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def rate(value: float) -> str:
    return f"{value:,.0f}"


def ratio(value: float) -> str:
    return f"{value:.2f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed (uvicorn[standard] brings it, and the server uses it)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is part of uvicorn[standard]
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def thingport_command() -> str:
    beside = Path(sys.executable).parent / "thingport"
    if beside.exists():
        return str(beside)
    found = shutil.which("thingport")
    if found is None:
        raise SystemExit("the `thingport` command is not installed (pip install -e .)")
    return found


def thingport_cli(args: Sequence[str], location: Sequence[str], log: Path) -> str:
    """Run a `thingport` command, append its stderr to `log`, return its stdout."""
    done = subprocess.run(
        [thingport_command(), *args, *location],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    with log.open("a") as out:
        out.write(f"$ thingport {' '.join(args)}\n{done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"thingport {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def tail(log: Path) -> str:
    return log.read_text()[-2000:]


async def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until a `thingport serve` subprocess answers /healthz; its log tail if it dies."""
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not become ready:\n{tail(log)}")
