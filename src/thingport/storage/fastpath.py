"""Driver-level statements for the ingest hot path.

SQLAlchemy's statement handling costs about as much as the database work for the small, fixed
statements run once per ingest batch (benchmarks/README.md). The few statements on that path go
straight to the driver under the session's own connection, so they stay in its transaction.
SQL is written with `?` placeholders and numbered (`$1`) for asyncpg.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@lru_cache(maxsize=64)
def _numbered(sql: str) -> str:
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _match: f"${next(counter)}", sql)


class DriverConnection:
    def __init__(self, backend: str, driver: Any) -> None:
        self.backend = backend
        self.driver = driver

    def timestamp(self, moment: datetime) -> Any:
        """A datetime as the UTCDateTime column stores it on this backend."""
        if self.backend == "sqlite":
            return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.backend == "sqlite":
            await self.driver.executemany(sql, rows)
        else:
            await self.driver.executemany(_numbered(sql), rows)

    async def execute(self, sql: str, *args: Any) -> None:
        if self.backend == "sqlite":
            cursor = await self.driver.execute(sql, args)
            await cursor.close()
        else:
            await self.driver.execute(_numbered(sql), *args)


async def driver_of(session: AsyncSession) -> DriverConnection:
    """The driver connection of the session's transaction, looked up once per session.

    Sessions here live for one unit of work, hence one transaction on one connection, so the
    memo in `session.info` cannot outlive the connection it points to.
    """
    cached = session.info.get("thingport.driver")
    if isinstance(cached, DriverConnection):
        return cached
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = DriverConnection(connection.dialect.name, raw.driver_connection)
    session.info["thingport.driver"] = driver
    return driver
