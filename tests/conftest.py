"""Shared fixtures: a migrated database per backend, a platform, an app client, a live server.

Every database test runs on SQLite and on the real PostgreSQL on 127.0.0.1. Without PostgreSQL
those runs skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from thingport.app import create_app
from thingport.core.accounts.schemas import Principal, UserCreate
from thingport.platform import Platform
from thingport.settings import Settings
from thingport.storage.engine import build_engine
from thingport.storage.migrate import upgrade
from thingport.storage.models import metadata

PG_ADMIN_DSN = os.environ.get(
    "THINGPORT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# Every table the models declare (storage.models imports each domain's models), children
# first: a table added by a migration is emptied between tests without anyone listing it.
TABLES = tuple(table.name for table in reversed(metadata.sorted_tables))


def _run_name(request: pytest.FixtureRequest) -> str:
    """Unique per test run and worker, so that concurrent runs never share a database."""
    workerinput = getattr(request.config, "workerinput", {})
    run = str(workerinput.get("testrunuid", uuid.uuid4().hex))[:10]
    return f"{run}_{workerinput.get('workerid', 'main')}"


async def _migrate(url: str) -> None:
    engine = build_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (faster than migrating per test)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


async def _pg_reachable() -> str | None:
    try:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated PostgreSQL database for this test worker."""
    problem = asyncio.run(_pg_reachable())
    if problem is not None:
        message = f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {problem}"
        if IN_CI:
            pytest.fail(message + " (CI=true: the PostgreSQL backend must be tested)")
        pytest.skip(message)
    name = f"thingport_test_{_run_name(request)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        url = f"{base}/{name}"
        asyncio.run(_migrate(url))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "thingport.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No embedded broker unless a test asks for one on a port of its own: 1883 may be taken, and
    # two workers must not race for it.
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        virtual_devices=False,
        demo=False,
        mqtt_port=0,
    )


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    running = Platform(settings)
    try:
        yield running
    finally:
        await running.close()


@dataclass
class Account:
    principal: Principal
    token: str


async def make_account(
    platform: Platform, username: str, *, password: str | None = None
) -> Account:
    """A user with an API token. No password unless asked: argon2 hashing costs a quarter of a
    second, most of a test's setup, and the token is what the APIs use."""
    async with platform.core() as core:
        user = await core.accounts.create_user(
            UserCreate(username=username, email=f"{username}@example.com", password=password)
        )
        issued = await core.accounts.issue_api_key(user.id, "test")
    return Account(Principal(user_id=user.id, username=username), issued.token)


@pytest.fixture
async def alice(platform: Platform) -> Account:
    return await make_account(platform, "alice")


@pytest.fixture
async def bob(platform: Platform) -> Account:
    return await make_account(platform, "bob")


@pytest.fixture
async def app(platform: Platform, settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, platform=platform)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://thingport.test") as c:
        yield c


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def live_server(platform: Platform, settings: Settings) -> AsyncIterator[str]:
    """A real uvicorn server on a loopback port, in this event loop; yields its base URL."""
    port = _free_port()
    application = create_app(settings.model_copy(update={"port": port}), platform=platform)
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "the test server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


@dataclass
class SmtpSink:
    """A real SMTP server on a loopback port; what it received, in order."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def configure(self, settings: Settings) -> Settings:
        """`settings` sending e-mail here. A test module overrides the `settings` fixture with
        it (`def settings(settings, smtp_sink): return smtp_sink.configure(settings)`)."""
        return settings.model_copy(update={"smtp_host": self.host, "smtp_port": self.port})


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", _free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)


def basic(token: str) -> httpx.BasicAuth:
    return httpx.BasicAuth(token, "")
