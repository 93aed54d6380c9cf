"""Leases in the database: a job that must run on one worker at a time (command expiry, the
virtual devices) runs where its lease is held. A holder renews the lease before it expires; a
holder that dies stops renewing, and another worker takes the lease over once it has expired.

Expiry is judged by the clock of the worker asking, so the workers' clocks must agree to well
within a lease's time to live (NTP does).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from thingport.core.leases.repository import LeasesRepository
from thingport.storage.base import utcnow
from thingport.storage.engine import UnitOfWork

Clock = Callable[[], datetime]


class LeasesService:
    def __init__(self, uow: UnitOfWork, *, clock: Clock = utcnow) -> None:
        self.repo = LeasesRepository(uow.session)
        self.clock = clock

    async def claim(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease `name` for `ttl` from now; whether `holder` holds it. Holding
        it is true only once the unit of work has committed."""
        now = self.clock()
        until = now + ttl
        if await self.repo.take(name, holder, now, until):
            return True
        return await self.repo.create(name, holder, until)

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up (a clean shutdown), so that another worker need not wait for it
        to expire. Does nothing unless `holder` holds it."""
        await self.repo.release(name, holder)

    async def holder(self, name: str) -> str | None:
        """Who holds the lease now, if anyone."""
        return await self.repo.holder(name, self.clock())
