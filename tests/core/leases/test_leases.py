"""Leases with two workers (two platforms) on one database, on both backends, with a clock
the test moves: one holds a lease, renewing keeps it, and after it expires the other takes it
over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from thingport.leased import LeasedJob
from thingport.platform import Platform
from thingport.settings import Settings

TTL = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def workers(settings: Settings, clock: Clock) -> AsyncIterator[tuple[Platform, Platform]]:
    a, b = Platform(settings), Platform(settings)
    a.clock = b.clock = clock
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _claim(worker: Platform, name: str = "job") -> bool:
    async with worker.core() as core:
        return await core.leases.claim(name, worker.worker_id, TTL)


async def test_one_holder_renewal_and_takeover_after_expiry(
    workers: tuple[Platform, Platform], clock: Clock
) -> None:
    a, b = workers
    assert a.worker_id != b.worker_id
    assert await _claim(a)
    assert not await _claim(b)
    clock.advance(20)
    assert await _claim(a)  # renewed: good for 30 s from now
    clock.advance(20)  # 40 s after the first claim, 20 s after the renewal
    assert not await _claim(b)
    clock.advance(11)  # a stopped renewing (it died): its lease expired
    assert await _claim(b)
    assert not await _claim(a)
    async with a.core() as core:
        assert await core.leases.holder("job") == b.worker_id
    assert await _claim(a, "another job")  # leases are independent


async def test_a_released_lease_is_free_at_once(
    workers: tuple[Platform, Platform], clock: Clock
) -> None:
    a, b = workers
    assert await _claim(a)
    async with b.core() as core:
        await core.leases.release("job", b.worker_id)  # not b's: nothing happens
    assert not await _claim(b)
    async with a.core() as core:
        await core.leases.release("job", a.worker_id)
        assert await core.leases.holder("job") is None
    assert await _claim(b)


async def test_racing_claims_give_the_lease_to_one(workers: tuple[Platform, Platform]) -> None:
    a, b = workers
    results = await asyncio.gather(*[_claim(worker) for worker in (a, b, a, b)])
    holders = {w.worker_id for w, won in zip((a, b, a, b), results, strict=True) if won}
    assert len(holders) == 1


async def test_the_job_runs_where_the_lease_is_held(
    workers: tuple[Platform, Platform], clock: Clock
) -> None:
    a, b = workers
    started: list[str] = []
    gate = asyncio.Event()

    def job_for(worker: Platform) -> LeasedJob:
        async def job() -> None:
            started.append(worker.worker_id)
            await gate.wait()  # runs until stopped

        return LeasedJob(worker, "singleton", job, ttl=TTL)

    on_a, on_b = job_for(a), job_for(b)
    try:
        assert await on_a.tick()
        assert not await on_b.tick()
        await asyncio.sleep(0)  # let the job task start
        assert on_a.running
        assert not on_b.running
        clock.advance(31)  # a missed its renewals
        assert await on_b.tick()
        assert not await on_a.tick()  # a learns it lost the lease: its job stops
        await asyncio.sleep(0)
        assert not on_a.running
        assert on_b.running
        assert started == [a.worker_id, b.worker_id]
        await on_b.stop()  # a clean stop gives the lease up
        assert await on_a.tick()
    finally:
        await on_a.stop()
        await on_b.stop()
