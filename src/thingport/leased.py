"""Jobs that must run on one worker at a time (command expiry, the virtual devices), each
under a lease in the database (core/leases). Every worker runs a `LeasedJob` for each; the one
that holds the lease runs the job, renewing the lease every `renew_every_s`, and the others
keep asking, so that one of them takes the job over once a dead holder's lease has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from thingport.platform import Platform

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(seconds=30)
# Three renewals per time to live: one slow or failed round does not lose the lease.
RENEW_EVERY_S = LEASE_TTL.total_seconds() / 3

Job = Callable[[], Coroutine[Any, Any, None]]


class LeasedJob:
    def __init__(
        self,
        platform: Platform,
        name: str,
        job: Job,
        *,
        ttl: timedelta = LEASE_TTL,
        renew_every_s: float = RENEW_EVERY_S,
    ) -> None:
        self.platform = platform
        self.name = name
        self.job = job
        self.ttl = ttl
        self.renew_every_s = renew_every_s
        # What the last round found: None before the first, then whether this worker holds it.
        self.held: bool | None = None
        self._job: asyncio.Task[None] | None = None
        self._loop: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the job runs in this process now."""
        return self._job is not None and not self._job.done()

    async def tick(self) -> bool:
        """One round: take or renew the lease, start the job if it was won, stop it if lost.
        Returns whether this worker holds the lease."""
        try:
            async with self.platform.core() as core:
                held = await core.leases.claim(self.name, self.platform.worker_id, self.ttl)
        except Exception:  # the database is unreachable: the lease may lapse, so stop the job
            log.exception("could not renew the %s lease", self.name)
            held = False
        if self._job is not None and self._job.done():  # it failed: run it again while held
            await self._stop_job()
        if held and self._job is None:
            log.info("this worker now runs %s", self.name)
            self._job = asyncio.create_task(self.job(), name=self.name)
        elif not held and self._job is not None:
            log.info("%s runs on another worker now", self.name)
            await self._stop_job()
        self.held = held
        return held

    async def _keep(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.renew_every_s)

    def start(self) -> None:
        self._loop = asyncio.create_task(self._keep(), name=f"lease:{self.name}")

    async def stop(self) -> None:
        """Stop the job and give the lease up, so another worker need not wait for expiry."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        held = self._job is not None
        await self._stop_job()
        if held:
            try:
                async with self.platform.core() as core:
                    await core.leases.release(self.name, self.platform.worker_id)
            except Exception:  # it expires by itself
                log.exception("could not release the %s lease", self.name)

    async def _stop_job(self) -> None:
        job, self._job = self._job, None
        if job is None:
            return
        job.cancel()
        try:
            await job
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("%s failed", self.name)
