"""Rollup query latency: TelemetryService.query next to the hand-written SQL it stands for.

    .venv/bin/python -m benchmarks.query [--days 30] [--repeat 3] [--warmup 6]
                                         [--rollup 1h-avg] [--backend sqlite|postgresql|both]

For each backend: a fresh migrated database with a real user, device and series; `--days` days
of 1-second points for that series (2,592,000 for 30 days) loaded by the raw fast path (sqlite3
executemany, asyncpg copy_records_to_table); then `--warmup` untimed and `--repeat` timed
interleaved runs of

  core  `TelemetryService.query(owner, device, time_range=..., downsample=...)` in its own
        `platform.core()` unit of work (device lookup, access check, series list, aggregate);
  sql   SELECT ts - ts % <interval>, AVG(value) FROM points
        WHERE series_id = ? AND ts BETWEEN ? AND ? GROUP BY 1
        through the bare driver (sqlite3, asyncpg) on the same database.

Prints best and median latency of each and the ratio core/sql, and checks that both return the
same buckets with (approximately) equal values. Times are reported, never asserted. Six warm-up
runs, because PostgreSQL switches a prepared statement (both asyncpg and SQLAlchemy prepare)
to its generic plan after five executions: the timed runs see what a long-running server sees.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from benchmarks._common import (
    PG_URL,
    SQLITE_PRAGMAS,
    Timings,
    add_backend_option,
    bench_settings,
    create_devices,
    create_owner,
    fresh_database,
    libpq_dsn,
    load,
    machine,
    ms,
    pg_problem,
    rate,
    ratio,
    run,
    selected_backends,
    sqlite_path,
    table,
)
from thingport.core.accounts.schemas import Principal
from thingport.core.telemetry.query import Aggregator, Downsample, TimeRange
from thingport.kit.timeparse import parse_duration
from thingport.platform import Platform

T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, on an hour boundary
DEVICE = "QUERY-0001"
METRIC = "temperature"
DAY_S = 86_400

HAND_SQL = {
    "sqlite": (
        "SELECT ts - ts % {iv}, AVG(value) FROM points "
        "WHERE series_id = ? AND ts BETWEEN ? AND ? GROUP BY 1"
    ),
    "postgresql": (
        "SELECT ts - ts % {iv}, AVG(value) FROM points "
        "WHERE series_id = $1 AND ts BETWEEN $2 AND $3 GROUP BY 1"
    ),
}

Bucket = tuple[int, float]


@dataclass
class Outcome:
    points: int
    load_seconds: float
    core: Timings
    sql: Timings
    core_buckets: list[Bucket]
    sql_buckets: list[Bucket]
    notes: list[str] = field(default_factory=list)

    def check(self) -> tuple[bool, str]:
        if len(self.core_buckets) != len(self.sql_buckets):
            return False, (
                f"bucket counts differ: core {len(self.core_buckets)}, sql {len(self.sql_buckets)}"
            )
        for (cb, cv), (sb, sv) in zip(self.core_buckets, self.sql_buckets, strict=True):
            if cb != sb or not math.isclose(cv, sv, rel_tol=1e-9, abs_tol=1e-9):
                return False, f"bucket {cb}: core {cv!r}, sql bucket {sb} = {sv!r}"
        return True, f"same {len(self.core_buckets)} buckets, values equal within 1e-9"


def value_at(i: int) -> float:
    """A daily wave plus a deterministic wobble: every bucket has a different mean."""
    return 20.0 + 5.0 * math.sin(2.0 * math.pi * i / DAY_S) + ((i * 7919) % 1000) / 1000.0


def point_rows(series_id: int, count: int) -> Iterator[tuple[int, int, float]]:
    for i in range(count):
        yield (series_id, T0_MS + i * 1000, value_at(i))


async def prepare(platform: Platform) -> tuple[Principal, int]:
    """A real user, device and series, created through the core; returns owner and series id."""
    owner = await create_owner(platform)
    await create_devices(platform, owner, [DEVICE])
    async with platform.core() as core:
        device = await core.devices.resolve(owner, DEVICE, change=True)
        await core.telemetry.define_series(device, [(METRIC, "Temperature", "C", None)])
    async with platform.core() as core:
        series = (await core.telemetry.series_of_devices([device.id]))[device.id]
    return owner, series[0].id


def load_sqlite(url: str, series_id: int, count: int) -> None:
    with contextlib.closing(sqlite3.connect(sqlite_path(url), isolation_level=None)) as db:
        for pragma in SQLITE_PRAGMAS:
            db.execute(pragma)
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO points (series_id, ts, value) VALUES (?, ?, ?)",
            point_rows(series_id, count),
        )
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def load_postgres(url: str, series_id: int, count: int) -> None:
    connection = await asyncpg.connect(libpq_dsn(url))
    try:
        await connection.copy_records_to_table(
            "points", records=point_rows(series_id, count), columns=["series_id", "ts", "value"]
        )
        # What autovacuum would do after a bulk load: statistics and the visibility map.
        await connection.execute("VACUUM ANALYZE points")
    finally:
        await connection.close()


async def timed(
    warmup: int, repeat: int, runners: Sequence[Callable[[], Awaitable[list[Bucket]]]]
) -> tuple[list[Timings], list[list[Bucket]]]:
    """`warmup` untimed rounds, then `repeat` timed ones, the runners interleaved; returns the
    timings and each runner's last result."""
    results: list[list[Bucket]] = [[] for _ in runners]
    for _ in range(warmup):
        for index, runner in enumerate(runners):
            results[index] = await runner()
    seconds: list[list[float]] = [[] for _ in runners]
    for _ in range(repeat):
        for index, runner in enumerate(runners):
            started = time.perf_counter()
            results[index] = await runner()
            seconds[index].append(time.perf_counter() - started)
    return [Timings(s) for s in seconds], results


async def bench(
    backend: str, days: int, warmup: int, repeat: int, rollup: str, workdir: Path
) -> Outcome:
    count = days * DAY_S
    start_ms, end_ms = T0_MS, T0_MS + (count - 1) * 1000
    interval, _, aggregator = rollup.partition("-")
    if aggregator != "avg":
        raise SystemExit("the hand-written SQL is an AVG: use an <interval>-avg rollup")
    downsample = Downsample(parse_duration(interval), Aggregator.AVG)
    time_range = TimeRange(start_ms, end_ms)
    hand_sql = HAND_SQL[backend].format(iv=downsample.interval_ms)

    url = await fresh_database(backend, workdir, "query")
    platform = Platform(bench_settings(url, workdir))
    sqlite_db: sqlite3.Connection | None = None
    pg: asyncpg.Connection | None = None
    try:
        owner, series_id = await prepare(platform)
        started = time.perf_counter()
        if backend == "sqlite":
            await asyncio.to_thread(load_sqlite, url, series_id, count)
        else:
            await load_postgres(url, series_id, count)
        load_seconds = time.perf_counter() - started

        async def core_query() -> list[Bucket]:
            async with platform.core() as core:
                result = await core.telemetry.query(
                    owner, DEVICE, time_range=time_range, downsample=downsample
                )
            return [(b, v) for b, v in result.results[0].points if v is not None]

        if backend == "sqlite":
            sqlite_db = sqlite3.connect(sqlite_path(url))
            for pragma in SQLITE_PRAGMAS:
                sqlite_db.execute(pragma)
            db = sqlite_db

            async def sql_query() -> list[Bucket]:
                rows = db.execute(hand_sql, (series_id, start_ms, end_ms)).fetchall()
                return sorted((int(b), float(v)) for b, v in rows)

        else:
            pg = await asyncpg.connect(libpq_dsn(url))
            connection = pg

            async def sql_query() -> list[Bucket]:
                rows = await connection.fetch(hand_sql, series_id, start_ms, end_ms)
                return sorted((int(b), float(v)) for b, v in rows)

        (core_t, sql_t), (core_b, sql_b) = await timed(warmup, repeat, [core_query, sql_query])
    finally:
        if sqlite_db is not None:
            sqlite_db.close()
        if pg is not None:
            await pg.close()
        await platform.close()
    return Outcome(count, load_seconds, core_t, sql_t, core_b, sql_b)


def report(outcomes: dict[str, Outcome], skipped: dict[str, str], rollup: str) -> None:
    if not outcomes:
        print("nothing measured")
    rows = []
    for backend, o in outcomes.items():
        for path, t in (("sql", o.sql), ("core", o.core)):
            rows.append(
                [
                    backend,
                    path,
                    ms(t.best),
                    ms(t.median),
                    ratio(t.best / o.sql.best),
                    ratio(t.median / o.sql.median),
                    rate(o.points / t.best),
                ]
            )
    print()
    print(
        table(
            [
                "backend",
                "path",
                "best ms",
                "median ms",
                "x sql (best)",
                "x sql (median)",
                "points scanned/s (best)",
            ],
            rows,
            right=(2, 3, 4, 5, 6),
        )
    )
    for backend, reason in skipped.items():
        print(f"{backend}: skipped, {reason}")
    print()
    for backend, o in outcomes.items():
        same, detail = o.check()
        print(f"{backend}: result check {'OK' if same else 'MISMATCH'}: {detail}")
        print(
            f"{backend}: loaded {o.points:,} points in {o.load_seconds:.1f} s "
            f"({rate(o.points / o.load_seconds)} points/s, raw fast path); rollup {rollup}; "
            f"runs core {', '.join(ms(s) for s in o.core.seconds)} ms, "
            f"sql {', '.join(ms(s) for s in o.sql.seconds)} ms"
        )


async def main(args: argparse.Namespace) -> None:
    print(f"query benchmark on {machine()}")
    print(f"load average before: {load()} (other work on the machine skews every figure)")
    print(
        f"{args.days} days of 1-second points for one series ({args.days * DAY_S:,} points), "
        f"rollup {args.rollup}, best and median of {args.repeat} after {args.warmup} warm-up runs"
    )
    outcomes: dict[str, Outcome] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="thingport-bench-") as tmp:
        for backend in selected_backends(args.backend):
            if backend == "postgresql":
                problem = await pg_problem()
                if problem is not None:
                    skipped[backend] = f"PostgreSQL not reachable at {PG_URL}: {problem}"
                    print(f"postgresql: skipped, {skipped[backend]}")
                    continue
            print(f"{backend}: loading and querying ...", flush=True)
            outcomes[backend] = await bench(
                backend, args.days, args.warmup, args.repeat, args.rollup, Path(tmp)
            )
    print(f"load average after: {load()}")
    report(outcomes, skipped, args.rollup)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.query", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--days", type=int, default=30, help="days of 1-second data (30)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each query (3)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=6,
        help="untimed runs of each query first (6: PostgreSQL re-plans a prepared statement "
        "as a generic plan after 5 runs, which is what a long-running server executes)",
    )
    parser.add_argument("--rollup", default="1h-avg", help="an <interval>-avg rollup (1h-avg)")
    add_backend_option(parser)
    args = parser.parse_args(argv)
    if args.days < 1 or args.repeat < 1 or args.warmup < 1:
        parser.error("--days, --repeat and --warmup must be positive")
    return args


if __name__ == "__main__":
    run(main(parse_args()))
