"""Engine, sessions and the unit of work that every request and job runs in."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

AfterCommit = Callable[[], Awaitable[None]]

log = logging.getLogger(__name__)


def _name(action: AfterCommit) -> str:
    return getattr(action, "__qualname__", None) or repr(action)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (streams, queries) run while the ingest path writes; busy_timeout turns
    # writer contention into waiting instead of "database is locked" errors.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def build_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class UnitOfWork:
    """One transaction. Services add work; side effects wait for the commit.

    Services never commit: whoever opened the unit of work commits it, then runs the queued
    after-commit actions (bus events, MQTT publishes, e-mails). A rollback drops them, so no
    subscriber ever hears about data that was not stored.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, action: AfterCommit) -> None:
        self._after_commit.append(action)

    async def _run_after_commit(self) -> None:
        # The data is committed: whatever goes wrong now must neither hide that from the
        # caller (a 500 for a stored request) nor stop the other side effects. Each failure is
        # logged under the action's name and the rest run; cancellation still propagates.
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                await action()
            except Exception:
                log.exception("after-commit action %s failed", _name(action))


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        async with self.sessions() as session:
            uow = UnitOfWork(session)
            try:
                yield uow
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        await uow._run_after_commit()

    async def dispose(self) -> None:
        await self.engine.dispose()
