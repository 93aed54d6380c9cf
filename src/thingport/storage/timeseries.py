"""The point store: the one interface through which points are written and aggregated.

Dialects and services never write SQL against `points`; they go through `PointStore`, so that
pre-aggregated rollup tiers can later slot in behind the same methods. Writers are chosen per
database backend (a Protocol plus a registry): SQLite takes a driver-level executemany, PostgreSQL
takes one INSERT ... SELECT FROM unnest() per batch, both upserting on (series, time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.telemetry.query import Aggregator
from thingport.storage.fastpath import DriverConnection, driver_of

PointRow = tuple[int, int, float]  # (series_id, ts_ms, value)
Buckets = dict[int, list[tuple[int, float]]]  # series_id -> [(bucket_start_ms, value), ...]


class PointWriter(Protocol):
    async def write(self, driver: DriverConnection, rows: Sequence[PointRow]) -> None: ...


class SQLitePointWriter:
    SQL = (
        "INSERT INTO points (series_id, ts, value) VALUES (?, ?, ?) "
        "ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value"
    )

    async def write(self, driver: DriverConnection, rows: Sequence[PointRow]) -> None:
        await driver.executemany(self.SQL, rows)


class PostgresPointWriter:
    SQL = (
        "INSERT INTO points (series_id, ts, value) "
        "SELECT * FROM unnest(?::integer[], ?::bigint[], ?::float8[]) "
        "ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value"
    )

    async def write(self, driver: DriverConnection, rows: Sequence[PointRow]) -> None:
        # Within one statement, a (series, ts) pair may appear only once for ON CONFLICT.
        latest = {(sid, ts): value for sid, ts, value in rows}
        await driver.execute(
            self.SQL,
            [key[0] for key in latest],
            [key[1] for key in latest],
            list(latest.values()),
        )


WRITERS: dict[str, Callable[[], PointWriter]] = {
    "sqlite": SQLitePointWriter,
    "postgresql": PostgresPointWriter,
}

_RANGE = "series_id IN :ids AND ts >= :start AND ts <= :end"
_BUCKET = "(ts - ts % :iv)"

# One SELECT per aggregator, each returning (series_id, bucket, value).
_GROUPED: dict[Aggregator, str] = {
    name: f"SELECT series_id, {_BUCKET} AS bucket, {fn}(value) FROM points WHERE {_RANGE} "
    "GROUP BY series_id, bucket"
    for name, fn in (
        (Aggregator.MIN, "MIN"),
        (Aggregator.MAX, "MAX"),
        (Aggregator.SUM, "SUM"),
        (Aggregator.AVG, "AVG"),
    )
}
_GROUPED[Aggregator.COUNT] = (
    f"SELECT series_id, {_BUCKET} AS bucket, COUNT(*) FROM points WHERE {_RANGE} "
    "GROUP BY series_id, bucket"
)
# PostgreSQL raises "value out of range: underflow" when a float8 product or quotient of nonzero
# operands rounds to zero, where IEEE arithmetic (and SQLite) would just give 0. So squares and
# quotients that would land in the subnormal range are flushed to zero explicitly (CASE below);
# this changes results by less than 1e-300 and keeps tiny readings from failing whole queries.
# Population variance in two passes (mean first): stable where sum-of-squares formulas cancel.
_GROUPED[Aggregator.DEV] = (
    f"WITH p AS (SELECT series_id, {_BUCKET} AS bucket, value FROM points WHERE {_RANGE}), "
    "m AS (SELECT series_id, bucket, AVG(value) AS mean FROM p GROUP BY series_id, bucket) "
    "SELECT p.series_id, p.bucket, AVG(CASE WHEN ABS(p.value - m.mean) < 1e-150 THEN 0.0 "
    "ELSE (p.value - m.mean) * (p.value - m.mean) END) "
    "FROM p JOIN m ON p.series_id = m.series_id AND p.bucket = m.bucket "
    "GROUP BY p.series_id, p.bucket"
)
for _name, _order in ((Aggregator.FIRST, "ASC"), (Aggregator.LAST, "DESC")):
    _GROUPED[_name] = (
        "SELECT series_id, bucket, value FROM ("
        f"SELECT series_id, {_BUCKET} AS bucket, value, ROW_NUMBER() OVER "
        f"(PARTITION BY series_id, {_BUCKET} ORDER BY ts {_order}) AS rn "
        f"FROM points WHERE {_RANGE}) AS ranked WHERE rn = 1"
    )
# Rate: change per second between consecutive points, averaged within each bucket. A point's
# rate belongs to the bucket of the later point of its pair.
# Rates below 1e-300 per second are flushed to zero (see the underflow note above).
_GROUPED[Aggregator.RATE] = (
    "SELECT series_id, bucket, "
    "AVG(CASE WHEN ABS(dv) * 1000.0 < dt * 1e-300 THEN 0.0 ELSE dv * 1000.0 / dt END) FROM ("
    f"SELECT series_id, {_BUCKET} AS bucket, "
    "value - LAG(value) OVER w AS dv, ts - LAG(ts) OVER w AS dt "
    f"FROM points WHERE {_RANGE} WINDOW w AS (PARTITION BY series_id ORDER BY ts)) AS pairs "
    "WHERE dt IS NOT NULL GROUP BY series_id, bucket"
)

# No ORDER BY: sorting millions of input rows for it cost more than the aggregation itself
# (benchmarks/README.md); the few result buckets are sorted in Python instead.
_STATEMENTS = {
    name: text(sql).bindparams(bindparam("ids", expanding=True)) for name, sql in _GROUPED.items()
}
_RAW = text(
    f"SELECT series_id, ts, value FROM points WHERE {_RANGE} ORDER BY series_id, ts"
).bindparams(bindparam("ids", expanding=True))

_DELETE_SERIES = text("DELETE FROM points WHERE series_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


class PointStore:
    def __init__(self, backend: str) -> None:
        try:
            self.writer = WRITERS[backend]()
        except KeyError:
            raise ValueError(f"no point writer for database backend {backend!r}") from None

    async def write(self, session: AsyncSession, rows: Sequence[PointRow]) -> None:
        if rows:
            await self.writer.write(await driver_of(session), rows)

    async def delete_series(self, session: AsyncSession, series_ids: Sequence[int]) -> None:
        """Delete every point of these series (points have no foreign key to cascade on)."""
        if series_ids:
            await session.execute(_DELETE_SERIES, {"ids": list(series_ids)})

    async def aggregate(
        self,
        session: AsyncSession,
        series_ids: Sequence[int],
        start_ms: int,
        end_ms: int,
        interval_ms: int,
        aggregator: Aggregator,
    ) -> Buckets:
        """Downsample each series into buckets starting at `ts - ts % interval_ms`."""
        result: Buckets = defaultdict(list)
        if not series_ids:
            return result
        rows = await session.execute(
            _STATEMENTS[aggregator],
            {"ids": list(series_ids), "start": start_ms, "end": end_ms, "iv": interval_ms},
        )
        sqrt = aggregator is Aggregator.DEV
        for series_id, bucket, value in rows.all():
            result[series_id].append((int(bucket), float(value) ** 0.5 if sqrt else float(value)))
        for buckets in result.values():
            buckets.sort()
        return result

    async def raw(
        self, session: AsyncSession, series_ids: Sequence[int], start_ms: int, end_ms: int
    ) -> Buckets:
        result: Buckets = defaultdict(list)
        if not series_ids:
            return result
        rows = await session.execute(
            _RAW, {"ids": list(series_ids), "start": start_ms, "end": end_ms}
        )
        for series_id, ts, value in rows.all():
            result[series_id].append((int(ts), float(value)))
        return result
