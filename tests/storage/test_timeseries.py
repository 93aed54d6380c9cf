"""PointStore directly: raw reads (order, inclusive bounds, one list per series) and writes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.query import Aggregator
from thingport.platform import Platform
from thingport.storage.timeseries import (
    PointRow,
    PointStore,
    PostgresPointWriter,
    SQLitePointWriter,
)

BASE = 1_700_000_000_000
SECOND, HOUR = 1_000, 3_600_000
END_OF_TIME = 2**62


async def make_series(platform: Platform, account: Account, keys: Sequence[str]) -> list[int]:
    """Series ids for `keys` on a fresh device, created ahead of data (no points yet)."""
    async with platform.core() as core:
        created = await core.devices.create(account.principal, DeviceCreate(key="store-dev"))
        ref = await core.devices.resolve(account.principal, created.key)
        await core.telemetry.define_series(ref, [(key, key.upper(), None, None) for key in keys])
        found = await core.telemetry.series_of_devices([ref.id])
    by_key = {series.key: series.id for series in found[ref.id]}
    return [by_key[key] for key in keys]


async def write(platform: Platform, rows: Sequence[PointRow]) -> None:
    async with platform.core() as core:
        await platform.store.write(core.uow.session, rows)


async def raw(
    platform: Platform, ids: Sequence[int], start: int = 0, end: int = END_OF_TIME
) -> dict[int, list[tuple[int, float]]]:
    async with platform.core() as core:
        return dict(await platform.store.raw(core.uow.session, ids, start, end))


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        PointStore("mysql")


async def test_store_matches_the_backend(platform: Platform, database_url: str) -> None:
    backend = database_url.split(":", 1)[0].split("+", 1)[0]  # what the test asked for
    assert platform.db.backend == backend
    expected = {"sqlite": SQLitePointWriter, "postgresql": PostgresPointWriter}[backend]
    assert type(platform.store.writer) is expected


async def test_raw_is_ordered_by_time(platform: Platform, alice: Account) -> None:
    (sid,) = await make_series(platform, alice, ["t"])
    stamps = [BASE + 5 * SECOND, BASE, BASE + 9 * SECOND, BASE + 1, BASE + 3 * SECOND]
    await write(platform, [(sid, ts, float(ts - BASE)) for ts in stamps])
    await write(platform, [(sid, BASE - HOUR, -1.0)])  # a later, older write
    expected = [(ts, float(ts - BASE)) for ts in sorted(stamps)]
    assert await raw(platform, [sid]) == {sid: [(BASE - HOUR, -1.0), *expected]}


async def test_raw_range_bounds_are_inclusive(platform: Platform, alice: Account) -> None:
    (sid,) = await make_series(platform, alice, ["t"])
    stamps = [BASE - 1, BASE, BASE + 1, BASE + 2, BASE + 3]
    await write(platform, [(sid, ts, float(i)) for i, ts in enumerate(stamps)])
    assert await raw(platform, [sid], BASE, BASE + 2) == {
        sid: [(BASE, 1.0), (BASE + 1, 2.0), (BASE + 2, 3.0)]
    }
    assert await raw(platform, [sid], BASE + 1, BASE + 1) == {sid: [(BASE + 1, 2.0)]}
    assert await raw(platform, [sid], BASE + 4, BASE + 10) == {}
    assert await raw(platform, [sid], 0, BASE - 2) == {}


async def test_raw_returns_each_series_separately(platform: Platform, alice: Account) -> None:
    a, b, c, unasked = await make_series(platform, alice, ["a", "b", "c", "unasked"])
    await write(
        platform,
        [
            (b, BASE + 2, 20.0),
            (a, BASE + 1, 10.0),
            (b, BASE, 21.0),
            (a, BASE + 3, 11.0),
            (unasked, BASE, 99.0),
            (c, BASE - HOUR, 30.0),  # outside the range asked for below
        ],
    )
    got = await raw(platform, [a, b, c], BASE, BASE + HOUR)
    assert got == {a: [(BASE + 1, 10.0), (BASE + 3, 11.0)], b: [(BASE, 21.0), (BASE + 2, 20.0)]}
    # A series without points in range is absent rather than an empty list.
    assert c not in got
    assert unasked not in got
    assert await raw(platform, [b, a], BASE, BASE + HOUR) == got


async def test_no_series_asked_for(platform: Platform, alice: Account) -> None:
    (sid,) = await make_series(platform, alice, ["t"])
    await write(platform, [(sid, BASE, 1.0)])
    assert await raw(platform, []) == {}
    async with platform.core() as core:
        got = await platform.store.aggregate(core.uow.session, [], 0, BASE, HOUR, Aggregator.SUM)
    assert dict(got) == {}


async def test_every_aggregator_runs(platform: Platform, alice: Account) -> None:
    (sid,) = await make_series(platform, alice, ["t"])
    await write(platform, [(sid, BASE, 1.0), (sid, BASE + SECOND, 3.0)])
    hour = BASE - BASE % HOUR
    async with platform.core() as core:
        got = {
            aggregator: dict(
                await platform.store.aggregate(
                    core.uow.session, [sid], BASE, BASE + SECOND, HOUR, aggregator
                )
            )
            for aggregator in Aggregator
        }
    # Values 1 and 3 a second apart, in one bucket: deviation 1, rate 2 per second.
    expected = {"min": 1, "max": 3, "sum": 4, "avg": 2, "count": 2, "first": 1, "last": 3}
    expected |= {"dev": 1, "rate": 2}
    assert got == {name: {sid: [(hour, float(value))]} for name, value in expected.items()}


async def test_aggregate_returns_each_series_separately(platform: Platform, alice: Account) -> None:
    a, b, c = await make_series(platform, alice, ["a", "b", "c"])
    hour = BASE - BASE % HOUR
    await write(
        platform,
        [(a, hour, 1.0), (a, hour + 1, 2.0), (a, hour + HOUR, 4.0), (b, hour + 5, 8.0)],
    )
    async with platform.core() as core:
        got = await platform.store.aggregate(
            core.uow.session, [a, b, c], hour, hour + 2 * HOUR, HOUR, Aggregator.SUM
        )
    assert dict(got) == {a: [(hour, 3.0), (hour + HOUR, 4.0)], b: [(hour, 8.0)]}


async def test_write_nothing(platform: Platform, alice: Account) -> None:
    """An empty batch is no error and changes nothing: no point added, none replaced."""
    a, b = await make_series(platform, alice, ["a", "b"])
    await write(platform, [(a, BASE, 1.0)])
    await write(platform, [])
    assert await raw(platform, [a, b]) == {a: [(BASE, 1.0)]}


async def test_write_upserts_on_series_and_time(platform: Platform, alice: Account) -> None:
    a, b = await make_series(platform, alice, ["a", "b"])
    # Within one call a repeated (series, ts) keeps the last value...
    await write(platform, [(a, BASE, 1.0), (b, BASE, 5.0), (a, BASE, 2.0), (a, BASE + 1, 3.0)])
    assert await raw(platform, [a, b]) == {a: [(BASE, 2.0), (BASE + 1, 3.0)], b: [(BASE, 5.0)]}
    # ... and a later call replaces the stored value.
    await write(platform, [(a, BASE + 1, 4.0), (b, BASE + 1, 6.0)])
    assert await raw(platform, [a, b]) == {
        a: [(BASE, 2.0), (BASE + 1, 4.0)],
        b: [(BASE, 5.0), (BASE + 1, 6.0)],
    }


async def test_values_round_trip_exactly(platform: Platform, alice: Account) -> None:
    (sid,) = await make_series(platform, alice, ["t"])
    values = [0.1, -0.0, 1e-300, 5e-324, -1.7976931348623157e308, 123456789.123456789, 1 / 3]
    await write(platform, [(sid, BASE + i, v) for i, v in enumerate(values)])
    got = [v for _, v in (await raw(platform, [sid]))[sid]]
    assert got == values


async def test_large_batch(platform: Platform, alice: Account) -> None:
    a, b = await make_series(platform, alice, ["a", "b"])
    rows = [(sid, BASE + i * SECOND, float(i)) for i in range(5_000) for sid in (a, b)]
    await write(platform, rows)
    got = await raw(platform, [a, b])
    assert got[a] == got[b] == [(BASE + i * SECOND, float(i)) for i in range(5_000)]
