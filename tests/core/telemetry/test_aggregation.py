"""Downsampling in the point store, checked against references computed here in plain Python.

Every aggregator runs through TelemetryService.query (so through the SQL of PointStore.aggregate
and apply_fill) on both database backends. The references below follow
docs/ARCHITECTURE.md section 6 and never call the code under test.
"""

from __future__ import annotations

import itertools
import math
import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.devices.service import DeviceRef
from thingport.core.telemetry.query import Aggregator, Downsample, Fill, TimeRange
from thingport.core.telemetry.schemas import QueryResult, Reading, SeriesOut
from thingport.kit.errors import InvalidInput
from thingport.platform import Platform

SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000
INTERVALS = {"1s": SECOND, "1m": MINUTE, "5m": 5 * MINUTE, "1h": HOUR, "1d": DAY}
AGGREGATORS = ("min", "max", "sum", "avg", "count", "first", "last", "dev", "rate")
REL, ABS = 1e-9, 1e-6


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return round(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


BASE = utc_ms(2023, 11, 14, 22, 13, 20)  # 1_700_000_000_000, 13 digits: read as ms
H0 = utc_ms(2023, 11, 14, 22)  # an hour boundary
H1, H2, H3, H4 = H0 + HOUR, H0 + 2 * HOUR, H0 + 3 * HOUR, H0 + 4 * HOUR


UNITS = {"s": SECOND, "m": MINUTE, "h": HOUR, "d": DAY, "w": 7 * DAY, "n": 30 * DAY, "y": 365 * DAY}


def downsample(rollup: str) -> Downsample:
    """The tests' shorthand `<n><unit>-<aggregator>[-<fill>]`, spelled out here: parsing what
    clients send is each dialect's part, tested there."""
    interval, aggregator, *fill = rollup.split("-")
    return Downsample(
        int(interval[:-1]) * UNITS[interval[-1]],
        Aggregator(aggregator),
        Fill(fill[0]) if fill else Fill.NONE,
    )


def test_constants() -> None:
    assert BASE == 1_700_000_000_000
    assert H0 % HOUR == 0


# --- the reference ------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


REFERENCE: dict[str, Callable[[Sequence[float]], float]] = {
    "min": min,
    "max": max,
    "sum": math.fsum,
    "avg": _mean,
    "count": lambda values: float(len(values)),
    "first": lambda values: values[0],
    "last": lambda values: values[-1],
    "dev": statistics.pstdev,
    "rate": _mean,
}


def reference(
    points: Sequence[tuple[int, float]], start: int, end: int, interval: int, aggregator: str
) -> list[tuple[int, float]]:
    """Buckets `ts - ts % interval` of the points in [start, end], in plain Python."""
    inside = sorted((ts, value) for ts, value in points if start <= ts <= end)
    groups: dict[int, list[float]] = defaultdict(list)
    if aggregator == "rate":
        # Consecutive pairs across the whole range; a pair belongs to its later point's bucket.
        for (t0, v0), (t1, v1) in itertools.pairwise(inside):
            groups[t1 - t1 % interval].append((v1 - v0) / ((t1 - t0) / 1000))
    else:
        for ts, value in inside:
            groups[ts - ts % interval].append(value)
    return [(bucket, REFERENCE[aggregator](values)) for bucket, values in sorted(groups.items())]


def assert_buckets(
    got: Sequence[tuple[int, float | None]],
    expected: Sequence[tuple[int, float | None]],
    label: str = "",
) -> None:
    assert [ts for ts, _ in got] == [ts for ts, _ in expected], label
    assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=REL, abs=ABS), label


def test_reference_rate_on_a_tiny_series() -> None:
    points = [(0, 0.0), (10 * SECOND, 10.0), (20 * SECOND, 30.0), (60 * SECOND, 30.0)]
    assert reference(points, 0, MINUTE, MINUTE, "rate") == [(0, 1.5), (MINUTE, 0.0)]
    assert reference(points, 10 * SECOND, MINUTE, MINUTE, "rate") == [(0, 2.0), (MINUTE, 0.0)]


# --- helpers --------------------------------------------------------------------------------


def unique_key(prefix: str = "dev") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def new_device(platform: Platform, account: Account, key: str | None = None) -> DeviceRef:
    key = key or unique_key()
    async with platform.core() as core:
        await core.devices.create(account.principal, DeviceCreate(key=key))
        return await core.devices.resolve(account.principal, key)


async def ingest(platform: Platform, ref: DeviceRef, readings: Sequence[Reading]) -> None:
    async with platform.core() as core:
        await core.telemetry.ingest_for(ref, readings)


async def query(
    platform: Platform,
    account: Account,
    ref: DeviceRef,
    start: int,
    end: int,
    rollup: str,
    series_uuids: Sequence[str] | None = None,
) -> QueryResult:
    async with platform.core() as core:
        return await core.telemetry.query(
            account.principal,
            ref.key,
            time_range=TimeRange(start, end),
            downsample=downsample(rollup),
            series_uuids=series_uuids,
        )


async def points_of(
    platform: Platform, account: Account, ref: DeviceRef, start: int, end: int, rollup: str
) -> list[tuple[int, float | None]]:
    result = await query(platform, account, ref, start, end, rollup)
    assert len(result.results) == 1
    return result.results[0].points


async def series_of(platform: Platform, ref: DeviceRef) -> dict[str, SeriesOut]:
    async with platform.core() as core:
        found = await core.telemetry.series_of_devices([ref.id])
    return {series.key: series for series in found[ref.id]}


async def raw_points(
    platform: Platform, series_id: int, start: int = 0, end: int = 2**62
) -> list[tuple[int, float]]:
    async with platform.core() as core:
        got = await platform.store.raw(core.uow.session, [series_id], start, end)
    return got.get(series_id, [])


# --- a hand-made series with known answers --------------------------------------------------

# Hour H0 holds the textbook population-deviation sample 2 4 4 4 5 5 7 9 (mean 5, deviation 2);
# H1 is empty; H2 holds 10 and 20; H3 holds a single -6.
HAND = [
    (H0, 2.0),
    (H0 + 5 * MINUTE, 4.0),
    (H0 + 10 * MINUTE, 4.0),
    (H0 + 20 * MINUTE, 4.0),
    (H0 + 30 * MINUTE, 5.0),
    (H0 + 40 * MINUTE, 5.0),
    (H0 + 50 * MINUTE, 7.0),
    (H0 + 55 * MINUTE, 9.0),
    (H2, 10.0),
    (H2 + 30 * MINUTE, 20.0),
    (H3 + 15 * MINUTE, -6.0),
]

# Rates per pair (change / seconds), by the bucket of the later point:
#   H0: 2/300, 0, 0, 1/600, 0, 2/600, 2/300  -> sum 11/600 over 7 pairs
#   H2: (55 min -> 2 h) 1/3900, (2 h -> 2 h 30) 10/1800
#   H3: (2 h 30 -> 3 h 15) -26/2700
HAND_EXPECTED: dict[str, list[tuple[int, float]]] = {
    "min": [(H0, 2.0), (H2, 10.0), (H3, -6.0)],
    "max": [(H0, 9.0), (H2, 20.0), (H3, -6.0)],
    "sum": [(H0, 40.0), (H2, 30.0), (H3, -6.0)],
    "avg": [(H0, 5.0), (H2, 15.0), (H3, -6.0)],
    "count": [(H0, 8.0), (H2, 2.0), (H3, 1.0)],
    "first": [(H0, 2.0), (H2, 10.0), (H3, -6.0)],
    "last": [(H0, 9.0), (H2, 20.0), (H3, -6.0)],
    "dev": [(H0, 2.0), (H2, 5.0), (H3, 0.0)],
    "rate": [(H0, 11 / 600 / 7), (H2, (1 / 3900 + 10 / 1800) / 2), (H3, -26 / 2700)],
}

# The same with the range [H0 + 10 min, H2], both ends inclusive: 4 4 5 5 7 9 in H0, 10 in H2.
SUB_START, SUB_END = H0 + 10 * MINUTE, H2
SUB_EXPECTED: dict[str, list[tuple[int, float]]] = {
    "min": [(H0, 4.0), (H2, 10.0)],
    "max": [(H0, 9.0), (H2, 10.0)],
    "sum": [(H0, 34.0), (H2, 10.0)],
    "avg": [(H0, 34 / 6), (H2, 10.0)],
    "count": [(H0, 6.0), (H2, 1.0)],
    "first": [(H0, 4.0), (H2, 10.0)],
    "last": [(H0, 9.0), (H2, 10.0)],
    "dev": [(H0, math.sqrt(sum((v - 34 / 6) ** 2 for v in (4, 4, 5, 5, 7, 9)) / 6)), (H2, 0.0)],
    # The pair (5 min -> 10 min) lies partly before the range, so it does not count.
    "rate": [(H0, (0 + 1 / 600 + 0 + 2 / 600 + 2 / 300) / 5), (H2, 1 / 3900)],
}


def test_hand_expectations_match_the_reference() -> None:
    """The reference agrees with the answers worked out by hand."""
    for aggregator in AGGREGATORS:
        got = reference(HAND, H0, H4, HOUR, aggregator)
        assert_buckets(got, HAND_EXPECTED[aggregator], aggregator)
        got = reference(HAND, SUB_START, SUB_END, HOUR, aggregator)
        assert_buckets(got, SUB_EXPECTED[aggregator], aggregator)


@pytest.fixture
async def hand_device(platform: Platform, alice: Account) -> DeviceRef:
    ref = await new_device(platform, alice, "hand")
    # Sent out of order and in two batches: storage order must not matter.
    shuffled = HAND[5:] + HAND[:5]
    await ingest(platform, ref, [Reading("t", v, ts) for ts, v in shuffled[:6]])
    await ingest(platform, ref, [Reading("t", v, ts) for ts, v in shuffled[6:]])
    return ref


# One test per case rather than per aggregator: the per-test database setup dominates the runtime.
async def test_hand_made_series(platform: Platform, alice: Account, hand_device: DeviceRef) -> None:
    for aggregator in AGGREGATORS:
        got = await points_of(platform, alice, hand_device, H0, H4, f"1h-{aggregator}")
        assert_buckets(got, HAND_EXPECTED[aggregator], aggregator)


async def test_hand_made_series_inclusive_sub_range(
    platform: Platform, alice: Account, hand_device: DeviceRef
) -> None:
    for aggregator in AGGREGATORS:
        rollup = f"1h-{aggregator}"
        got = await points_of(platform, alice, hand_device, SUB_START, SUB_END, rollup)
        assert_buckets(got, SUB_EXPECTED[aggregator], aggregator)


async def test_rate_pairs_only_within_the_range(platform: Platform, alice: Account) -> None:
    ref = await new_device(platform, alice)
    points = [(H0, 0.0), (H0 + 10 * SECOND, 10.0), (H0 + 20 * SECOND, 30.0), (H1, 30.0)]
    await ingest(platform, ref, [Reading("c", v, ts) for ts, v in points])
    rate = await points_of(platform, alice, ref, H0, H1, "1m-rate")
    assert_buckets(rate, [(H0, 1.5), (H1, 0.0)])
    later = await points_of(platform, alice, ref, H0 + 1, H1, "1m-rate")
    assert_buckets(later, [(H0, 2.0), (H1, 0.0)])
    # A single point in range has no pair, hence no rate at all.
    assert await points_of(platform, alice, ref, H1, H1 + HOUR, "1m-rate") == []
    zero = await points_of(platform, alice, ref, H1, H1 + HOUR, "1m-rate-zero")
    assert zero == [(H1 + i * MINUTE, 0.0) for i in range(61)]


async def test_bucket_boundaries_and_labels(platform: Platform, alice: Account) -> None:
    ref = await new_device(platform, alice)
    stamps = [H0 - 1, H0, H1 - 1, H1]
    await ingest(platform, ref, [Reading("t", float(i), ts) for i, ts in enumerate(stamps)])
    assert await points_of(platform, alice, ref, H0 - HOUR, H4, "1h-count") == [
        (H0 - HOUR, 1.0),
        (H0, 2.0),
        (H1, 1.0),
    ]
    # Inclusive bounds that fall exactly on points.
    assert await points_of(platform, alice, ref, H0, H1, "1h-count") == [(H0, 2.0), (H1, 1.0)]
    # A bucket is labelled by its start even when the range begins inside it.
    assert await points_of(platform, alice, ref, H0 + 1, H1 - 1, "1h-last") == [(H0, 2.0)]
    assert await points_of(platform, alice, ref, H0 + 1, H1 - 2, "1h-count") == []


async def test_daily_buckets_start_at_utc_midnight(platform: Platform, alice: Account) -> None:
    ref = await new_device(platform, alice)
    before = utc_ms(2023, 11, 14, 23, 59, 59) + 999
    after = utc_ms(2023, 11, 15)
    await ingest(platform, ref, [Reading("t", 1.0, before), Reading("t", 3.0, after)])
    got = await points_of(platform, alice, ref, before - DAY, after + DAY, "1d-sum")
    assert got == [(utc_ms(2023, 11, 14), 1.0), (utc_ms(2023, 11, 15), 3.0)]
    week = await points_of(platform, alice, ref, before - DAY, after + DAY, "1w-sum")
    # Weeks are plain 7-day buckets from the epoch (a Thursday), as OpenTSDB does it.
    assert week == [(after - after % (7 * DAY), 4.0)]
    assert week[0][0] == utc_ms(2023, 11, 9)


async def test_intervals_beyond_32_bits(platform: Platform, alice: Account) -> None:
    """A month (30 d) and a year (365 d) in ms exceed 2**31, so they must bind as 64-bit."""
    ref = await new_device(platform, alice)
    stamps = [utc_ms(2023, 1, 1), utc_ms(2023, 6, 1), utc_ms(2023, 11, 14), utc_ms(2024, 2, 1)]
    points = [(ts, float(i * i)) for i, ts in enumerate(stamps)]
    await ingest(platform, ref, [Reading("t", v, ts) for ts, v in points])
    start, end = utc_ms(2022, 1, 1), utc_ms(2025, 1, 1)
    for unit, interval in (("n", 30 * DAY), ("y", 365 * DAY)):
        assert interval > 2**31
        for aggregator in AGGREGATORS:
            got = await points_of(platform, alice, ref, start, end, f"1{unit}-{aggregator}")
            expected = reference(points, start, end, interval, aggregator)
            assert_buckets(got, expected, f"1{unit}-{aggregator}")
    # 2023-11-14 (day 19675 since the epoch) lies in the 30-day bucket of day 19650 = 30 * 655.
    months = await points_of(platform, alice, ref, start, end, "1n-count")
    assert (utc_ms(2023, 10, 20), 1.0) in months


async def test_tiny_values_do_not_fail_the_query(platform: Platform, alice: Account) -> None:
    """Squares and quotients of tiny readings underflow; PostgreSQL must not turn that into an
    error (found by the hypothesis test below: 0.0 and 5.4e-289 one ms apart)."""
    ref = await new_device(platform, alice)
    points = [
        (H0, 0.0),
        (H0 + 1, 5.4082201921970145e-289),
        (H1, 5e-324),
        (H2, 1e-200),
        (H3, 0.0),
        (H4, 5e-324),  # a rate of 5e-324 / 3600 s: below the smallest double
    ]
    await ingest(platform, ref, [Reading("t", v, ts) for ts, v in points])
    for interval in ("1h", "1d"):
        for aggregator in AGGREGATORS:
            got = await points_of(platform, alice, ref, H0, H4, f"{interval}-{aggregator}")
            expected = reference(points, H0, H4, INTERVALS[interval], aggregator)
            assert_buckets(got, expected, f"{interval}-{aggregator}")
    ((bucket, dev),) = await points_of(platform, alice, ref, H0, H0 + 1, "1h-dev")
    assert bucket == H0
    # The exact answer is 2.7e-289, but its square is below the smallest double in any case.
    assert dev is not None
    assert 0.0 <= dev <= 2.8e-289


# --- random series against the reference ----------------------------------------------------

VALUES = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
# Mostly spread over three days, some packed into minutes or seconds so buckets hold several.
OFFSETS = st.one_of(
    st.integers(0, 3 * DAY), st.integers(0, 10 * MINUTE), st.integers(0, 5 * SECOND)
)


@dataclass(frozen=True)
class Scenario:
    points: list[tuple[int, float]]
    batches: list[list[tuple[int, float]]]
    interval: str
    start: int
    end: int


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    offsets = draw(st.lists(OFFSETS, min_size=1, max_size=40, unique=True))
    values = draw(st.lists(VALUES, min_size=len(offsets), max_size=len(offsets)))
    points = [(BASE + offset, value) for offset, value in zip(offsets, values, strict=True)]
    cut = draw(st.integers(0, len(points)))
    batches = [batch for batch in (points[:cut], points[cut:]) if batch]
    bound = st.one_of(
        st.sampled_from([ts for ts, _ in points]),
        st.integers(BASE - HOUR, BASE + 3 * DAY + HOUR),
    )
    start, end = sorted((draw(bound), draw(bound)))
    return Scenario(points, batches, draw(st.sampled_from(sorted(INTERVALS))), start, end)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios())
async def test_aggregators_match_the_reference(
    platform: Platform, alice: Account, scenario: Scenario
) -> None:
    ref = await new_device(platform, alice)
    for batch in scenario.batches:
        await ingest(platform, ref, [Reading("x", value, ts) for ts, value in batch])
    interval_ms = INTERVALS[scenario.interval]
    async with platform.core() as core:
        for aggregator in AGGREGATORS:
            result = await core.telemetry.query(
                alice.principal,
                ref.key,
                time_range=TimeRange(scenario.start, scenario.end),
                downsample=Downsample(interval_ms, Aggregator(aggregator)),
            )
            (series,) = result.results
            expected = reference(
                scenario.points, scenario.start, scenario.end, interval_ms, aggregator
            )
            assert_buckets(series.points, expected)


# --- fills through the service --------------------------------------------------------------


@pytest.mark.parametrize(("fill", "filler"), [("zero", 0.0), ("null", None)])
async def test_fill_through_query(
    platform: Platform, alice: Account, hand_device: DeviceRef, fill: str, filler: float | None
) -> None:
    # From 21:30 (bucket 21:00) to 02:00 exactly (bucket 02:00 included).
    got = await points_of(platform, alice, hand_device, H0 - 30 * MINUTE, H4, f"1h-avg-{fill}")
    assert got == [
        (H0 - HOUR, filler),
        (H0, 5.0),
        (H1, filler),
        (H2, 15.0),
        (H3, -6.0),
        (H4, filler),
    ]


async def test_fill_nan_through_query(
    platform: Platform, alice: Account, hand_device: DeviceRef
) -> None:
    got = await points_of(platform, alice, hand_device, H0, H3 - 1, "1h-max-nan")
    assert [ts for ts, _ in got] == [H0, H1, H2]
    assert got[0][1] == 9.0
    assert got[2][1] == 20.0
    empty = got[1][1]
    assert empty is not None
    assert math.isnan(empty)


async def test_fill_none_leaves_gaps(
    platform: Platform, alice: Account, hand_device: DeviceRef
) -> None:
    got = await points_of(platform, alice, hand_device, H0 - HOUR, H4, "1h-count-none")
    assert got == [(H0, 8.0), (H2, 2.0), (H3, 1.0)]


async def test_fill_on_a_range_without_points(
    platform: Platform, alice: Account, hand_device: DeviceRef
) -> None:
    start = H4 + 5 * MINUTE
    got = await points_of(platform, alice, hand_device, start, start + 2 * HOUR, "1h-sum-zero")
    assert got == [(H4, 0.0), (H4 + HOUR, 0.0), (H4 + 2 * HOUR, 0.0)]
    assert await points_of(platform, alice, hand_device, start, start + HOUR, "1h-sum") == []


async def test_too_many_filled_buckets_are_refused(
    platform: Platform, alice: Account, hand_device: DeviceRef
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await query(platform, alice, hand_device, H0, H0 + 200_000 * SECOND, "1s-avg-zero")
    assert caught.value.field == "rollup"
    # Without a fill only buckets with data come back, so there is no limit.
    got = await points_of(platform, alice, hand_device, H0, H0 + 200_000 * SECOND, "1s-count")
    assert len(got) == len(HAND)


# --- writes: upsert, last values, all-or-nothing batches ------------------------------------


async def test_same_series_and_time_keeps_the_last_value(
    platform: Platform, alice: Account
) -> None:
    ref = await new_device(platform, alice)
    await ingest(platform, ref, [Reading("t", 1.0, BASE), Reading("t", 5.0, BASE + SECOND)])
    await ingest(platform, ref, [Reading("t", 2.0, BASE)])
    series = (await series_of(platform, ref))["t"]
    assert await raw_points(platform, series.id) == [(BASE, 2.0), (BASE + SECOND, 5.0)]
    got = await points_of(platform, alice, ref, BASE, BASE, "1h-count")
    assert got == [(BASE - BASE % HOUR, 1.0)]
    assert series.last_value == 5.0
    assert series.last_ts == BASE + SECOND


async def test_duplicates_within_one_batch_keep_the_last(
    platform: Platform, alice: Account
) -> None:
    ref = await new_device(platform, alice)
    await ingest(
        platform,
        ref,
        [Reading("t", 1.0, BASE), Reading("t", 3.0, BASE), Reading("h", 7.0, BASE)],
    )
    found = await series_of(platform, ref)
    assert await raw_points(platform, found["t"].id) == [(BASE, 3.0)]
    assert await raw_points(platform, found["h"].id) == [(BASE, 7.0)]
    assert (found["t"].last_ts, found["t"].last_value) == (BASE, 3.0)


async def test_rewriting_the_latest_point_updates_the_last_value(
    platform: Platform, alice: Account
) -> None:
    ref = await new_device(platform, alice)
    await ingest(platform, ref, [Reading("t", 1.0, BASE)])
    await ingest(platform, ref, [Reading("t", 4.0, BASE)])
    series = (await series_of(platform, ref))["t"]
    assert (series.last_ts, series.last_value) == (BASE, 4.0)


async def test_older_batch_does_not_overwrite_the_last_value(
    platform: Platform, alice: Account
) -> None:
    ref = await new_device(platform, alice)
    await ingest(platform, ref, [Reading("t", 5.0, BASE + 10 * SECOND)])
    await ingest(platform, ref, [Reading("t", 1.0, BASE), Reading("h", 8.0, BASE)])
    found = await series_of(platform, ref)
    assert (found["t"].last_ts, found["t"].last_value) == (BASE + 10 * SECOND, 5.0)
    assert (found["h"].last_ts, found["h"].last_value) == (BASE, 8.0)
    # Within one batch the latest time wins, not the position in the batch.
    await ingest(
        platform,
        ref,
        [Reading("t", 7.0, BASE + 20 * SECOND), Reading("t", 6.0, BASE + 15 * SECOND)],
    )
    found = await series_of(platform, ref)
    assert (found["t"].last_ts, found["t"].last_value) == (BASE + 20 * SECOND, 7.0)
    assert await raw_points(platform, found["t"].id) == [
        (BASE, 1.0),
        (BASE + 10 * SECOND, 5.0),
        (BASE + 15 * SECOND, 6.0),
        (BASE + 20 * SECOND, 7.0),
    ]


async def test_reading_without_time_is_stamped_on_arrival(
    platform: Platform, alice: Account
) -> None:
    ref = await new_device(platform, alice)
    before = int(datetime.now(UTC).timestamp() * 1000)
    await ingest(platform, ref, [Reading("t", 1.5)])
    after = int(datetime.now(UTC).timestamp() * 1000)
    series = (await series_of(platform, ref))["t"]
    assert series.last_value == 1.5
    assert series.last_ts is not None
    assert before - 1 <= series.last_ts <= after + 1
    assert await raw_points(platform, series.id) == [(series.last_ts, 1.5)]


async def test_series_of_devices(platform: Platform, alice: Account) -> None:
    first = await new_device(platform, alice)
    second = await new_device(platform, alice)
    empty = await new_device(platform, alice)
    await ingest(
        platform,
        first,
        [Reading("t", 1.0, BASE, name="Temperature", unit="°C"), Reading("h", 2.0, BASE)],
    )
    await ingest(platform, second, [Reading("t", 3.0, BASE)])
    async with platform.core() as core:
        found = await core.telemetry.series_of_devices([first.id, second.id, empty.id])
    assert [s.key for s in found[first.id]] == ["t", "h"]
    assert [s.key for s in found[second.id]] == ["t"]
    assert found[empty.id] == []
    temperature = found[first.id][0]
    assert (temperature.name, temperature.unit, temperature.device_id) == (
        "Temperature",
        "°C",
        first.id,
    )
    assert found[first.id][1].name == "h"
    assert len({s.uuid for series in found.values() for s in series}) == 3


REJECTED = [
    (Reading("t", math.nan, BASE + 1), "value"),
    (Reading("t", math.inf, BASE + 1), "value"),
    (Reading("", 1.0, BASE + 1), "metric"),
    (Reading("k" * 101, 1.0, BASE + 1), "metric"),
    (Reading("t", 1.0, -1), "ts"),
    (Reading("t", 1.0, 253_402_300_800_000), "ts"),  # year 10000
]


async def test_rejected_batch_stores_nothing(platform: Platform, alice: Account) -> None:
    for bad, field in REJECTED:
        ref = await new_device(platform, alice)
        batch = [Reading("new", 1.0, BASE), bad, Reading("other", 2.0, BASE + 2)]
        with pytest.raises(InvalidInput) as caught:
            async with platform.core() as core:
                await core.telemetry.ingest_for(ref, batch)
        assert caught.value.field == field, bad
        assert "reading 1" in caught.value.message
        async with platform.core() as core:
            assert await core.telemetry.series_of_devices([ref.id]) == {ref.id: []}, bad
        # The device stays usable: the same keys can be written afterwards.
        await ingest(platform, ref, [Reading("new", 1.0, BASE), Reading("t", 3.0, BASE)])
        found = await series_of(platform, ref)
        assert sorted(found) == ["new", "t"]
        assert await raw_points(platform, found["new"].id) == [(BASE, 1.0)]


async def test_rejected_batch_keeps_existing_points(platform: Platform, alice: Account) -> None:
    ref = await new_device(platform, alice)
    await ingest(platform, ref, [Reading("t", 1.0, BASE)])
    with pytest.raises(InvalidInput):
        async with platform.core() as core:
            await core.telemetry.ingest_for(
                ref, [Reading("t", 9.0, BASE), Reading("t", math.nan, BASE + 1)]
            )
    series = (await series_of(platform, ref))["t"]
    assert await raw_points(platform, series.id) == [(BASE, 1.0)]
    assert (series.last_ts, series.last_value) == (BASE, 1.0)


async def test_empty_batch_is_refused(platform: Platform, alice: Account) -> None:
    ref = await new_device(platform, alice)
    with pytest.raises(InvalidInput) as caught:
        await ingest(platform, ref, [])
    assert caught.value.field == "readings"


# --- metric selection -----------------------------------------------------------------------


@pytest.fixture
async def two_series(platform: Platform, alice: Account) -> DeviceRef:
    ref = await new_device(platform, alice, "pair")
    await ingest(
        platform,
        ref,
        [
            Reading("t", 1.0, H0),
            Reading("t", 3.0, H0 + MINUTE),
            Reading("h", 50.0, H0),
            Reading("h", 70.0, H1),
        ],
    )
    return ref


async def test_all_series_come_back_separately(
    platform: Platform, alice: Account, two_series: DeviceRef
) -> None:
    result = await query(platform, alice, two_series, H0, H2, "1h-avg")
    assert result.device == two_series
    assert result.time_range == TimeRange(H0, H2)
    assert result.downsample == Downsample(HOUR, Aggregator.AVG, Fill.NONE)
    got = {r.series.key: r.points for r in result.results}
    assert got == {"t": [(H0, 2.0)], "h": [(H0, 50.0), (H1, 70.0)]}


async def test_select_series_by_uuid(
    platform: Platform, alice: Account, two_series: DeviceRef
) -> None:
    found = await series_of(platform, two_series)
    t_uuid, h_uuid = found["t"].uuid, found["h"].uuid
    only_h = await query(platform, alice, two_series, H0, H2, "1h-sum", [h_uuid])
    assert [(r.series.key, r.points) for r in only_h.results] == [("h", [(H0, 50.0), (H1, 70.0)])]
    # In the order asked for, duplicates once.
    both = await query(platform, alice, two_series, H0, H2, "1h-sum", [h_uuid, t_uuid, h_uuid])
    assert [r.series.key for r in both.results] == ["h", "t"]
    assert both.results[1].points == [(H0, 4.0)]
    none = await query(platform, alice, two_series, H0, H2, "1h-sum", [])
    assert none.results == []


async def test_unknown_uuid_is_invalid_input(
    platform: Platform, alice: Account, two_series: DeviceRef
) -> None:
    found = await series_of(platform, two_series)
    missing = str(uuid.uuid4())
    with pytest.raises(InvalidInput) as caught:
        await query(platform, alice, two_series, H0, H2, "1h-sum", [found["t"].uuid, missing])
    assert caught.value.field == "metric_id"
    assert missing in caught.value.message
    assert found["t"].uuid not in caught.value.message


async def test_uuid_of_another_device_is_unknown(
    platform: Platform, alice: Account, two_series: DeviceRef
) -> None:
    other = await new_device(platform, alice)
    await ingest(platform, other, [Reading("t", 1.0, H0)])
    foreign = (await series_of(platform, other))["t"].uuid
    with pytest.raises(InvalidInput) as caught:
        await query(platform, alice, two_series, H0, H2, "1h-sum", [foreign])
    assert caught.value.field == "metric_id"


async def test_bucket_limit_is_checked_before_the_device(
    platform: Platform, alice: Account
) -> None:
    """Bad input is refused as such, whether or not the device exists or may be seen."""
    with pytest.raises(InvalidInput) as caught:
        async with platform.core() as core:
            await core.telemetry.query(
                alice.principal,
                "no-such-device",
                time_range=TimeRange(H0, H0 + 200_000 * SECOND),
                downsample=Downsample(SECOND, Aggregator.AVG, Fill.ZERO),
            )
    assert caught.value.field == "rollup"
