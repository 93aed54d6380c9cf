"""All SQL of the leases domain. Each claim is one conditional statement, so that of two
workers racing for a lease the one whose statement changed a row holds it: on PostgreSQL the
second UPDATE waits for the first's row lock and then re-checks its condition against the new
row; SQLite runs one writer at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.leases.models import Lease


class LeasesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Renew the lease if `holder` has it, or take it over if it has expired."""
        result = await self.session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=until)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def create(self, name: str, holder: str, until: datetime) -> bool:
        """Create the lease for `holder`, unless someone else created it first."""
        dialect = sqlite if self.session.get_bind().dialect.name == "sqlite" else postgresql
        statement = (
            dialect.insert(Lease)
            .values(name=name, holder=holder, expires_at=until)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        result = await self.session.execute(statement)
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def release(self, name: str, holder: str) -> None:
        await self.session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))

    async def holder(self, name: str, now: datetime) -> str | None:
        lease = await self.session.get(Lease, name, populate_existing=True)
        return lease.holder if lease is not None and lease.expires_at >= now else None
