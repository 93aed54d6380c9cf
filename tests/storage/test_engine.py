from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from thingport.platform import Platform
from thingport.settings import Settings
from thingport.storage.models import metadata


async def test_after_commit_actions_run_only_after_a_commit(platform: Platform) -> None:
    ran: list[str] = []

    async def note(label: str) -> None:
        ran.append(label)

    async with platform.db.unit_of_work() as uow:
        uow.after_commit(lambda: note("committed"))
        assert ran == []  # not before the commit
    assert ran == ["committed"]

    with pytest.raises(RuntimeError):
        async with platform.db.unit_of_work() as uow:
            uow.after_commit(lambda: note("rolled back"))
            raise RuntimeError("boom")
    assert ran == ["committed"]


async def test_a_failing_after_commit_action_is_logged_and_the_others_run(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    async def first() -> None:
        ran.append("first")

    async def publish_to_a_dead_broker() -> None:
        raise ConnectionError("broker gone")

    async def last() -> None:
        ran.append("last")

    with caplog.at_level(logging.ERROR, logger="thingport.storage.engine"):
        async with platform.db.unit_of_work() as uow:
            await uow.session.execute(
                text(
                    "INSERT INTO measurements (uuid, name, description, created_at, updated_at) "
                    "VALUES ('u', 'kept', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            for action in (first, publish_to_a_dead_broker, last):
                uow.after_commit(action)
    # The block ended without raising: the caller sees the success the commit was.
    assert ran == ["first", "last"]
    (record,) = caplog.records
    assert "publish_to_a_dead_broker" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ConnectionError)
    async with platform.db.sessions() as session:
        names = (await session.execute(text("SELECT name FROM measurements"))).scalars().all()
    assert names == ["kept"]


async def test_cancellation_during_after_commit_actions_still_propagates(
    platform: Platform,
) -> None:
    """Only errors are contained: a cancelled task (shutdown, a client gone) stops at once."""

    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        async with platform.db.unit_of_work() as uow:
            uow.after_commit(cancelled)


async def test_rolled_back_work_is_not_stored(platform: Platform) -> None:
    with pytest.raises(RuntimeError):
        async with platform.db.unit_of_work() as uow:
            await uow.session.execute(
                text(
                    "INSERT INTO measurements (uuid, name, description, created_at, updated_at) "
                    "VALUES ('u', 'x', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            raise RuntimeError("boom")
    async with platform.db.sessions() as session:
        count = (await session.execute(text("SELECT COUNT(*) FROM measurements"))).scalar_one()
    assert count == 0


async def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    platform = Platform(Settings(data_dir=tmp_path))  # the embedded default
    try:
        await platform.migrate()
        async with platform.db.sessions() as session:
            mode = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
            keys = (await session.execute(text("PRAGMA foreign_keys"))).scalar_one()
    finally:
        await platform.close()
    assert (tmp_path / "thingport.db").exists()
    assert mode == "wal"
    assert keys == 1


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_build_exactly_the_models(platform: Platform) -> None:
    """The schema the migrations produced is the one the code declares (nothing forgotten)."""
    async with platform.db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


_TABLES_SEEN = """
import importlib, pkgutil, thingport.core
from thingport.storage.models import metadata
before = {t.name for t in metadata.sorted_tables}
for module in pkgutil.walk_packages(thingport.core.__path__, "thingport.core."):
    importlib.import_module(module.name)
after = {t.name for t in metadata.sorted_tables}
print(sorted(after - before))
"""


def test_every_models_module_is_imported_for_the_metadata() -> None:
    """storage.models alone declares every table (in a fresh interpreter, importing all of
    the core adds none): the migrations check above and the tests' table list (TABLES in
    tests/conftest.py) both read Base.metadata."""
    from tests.conftest import TABLES

    found = subprocess.run(
        [sys.executable, "-c", _TABLES_SEEN], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"
    assert set(TABLES) == {table.name for table in metadata.sorted_tables}
