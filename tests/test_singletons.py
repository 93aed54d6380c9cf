"""The app runs command expiry and the virtual devices under leases: with two workers on one
database, each job runs on the worker that took its lease, and a clean stop gives it up."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from fastapi import FastAPI

from thingport.app import create_app
from thingport.leased import LeasedJob
from thingport.platform import Platform
from thingport.settings import Settings

JOBS = ["command-expiry", "virtual-devices"]


async def _first_round(app: FastAPI) -> list[LeasedJob]:
    """The app's lease keepers once each has asked for its lease (a task does the asking)."""
    singletons: list[LeasedJob] = app.state.singletons
    for _ in range(1000):
        if all(s.held is not None for s in singletons):
            break
        await asyncio.sleep(0.01)
    assert [s.name for s in singletons] == JOBS
    return singletons


async def _holders(platform: Platform) -> list[str | None]:
    async with platform.core() as core:
        return [await core.leases.holder(job) for job in JOBS]


async def test_two_workers_run_each_job_once(platform: Platform, settings: Settings) -> None:
    worker = settings.model_copy(update={"virtual_devices": True})
    other = Platform(worker)
    try:
        async with AsyncExitStack() as stack:
            first = create_app(worker, platform=platform)
            await stack.enter_async_context(first.router.lifespan_context(first))
            on_first = await _first_round(first)
            second = create_app(worker, platform=other)
            async with second.router.lifespan_context(second):
                on_second = await _first_round(second)
                assert [(s.held, s.running) for s in on_first] == [(True, True)] * 2
                assert [(s.held, s.running) for s in on_second] == [(False, False)] * 2
                assert await _holders(other) == [platform.worker_id] * 2
        # The first worker stopped cleanly: its leases are free for another at once.
        assert await _holders(other) == [None, None]
    finally:
        await other.close()
