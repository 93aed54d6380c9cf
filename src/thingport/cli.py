"""`thingport serve | migrate | demo | user create | token create | command send | command show`."""

from __future__ import annotations

import asyncio
import gc
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from rich.console import Console

from thingport.app import StartupInfo, create_app
from thingport.core.accounts.schemas import SYSTEM, UserCreate
from thingport.demo.data import load_demo
from thingport.kit.errors import ThingportError
from thingport.platform import Platform, SchemaMismatch
from thingport.settings import Settings
from thingport.transports.mqtt.routes import CommandCheck

app = typer.Typer(help="Thingport: a self-hosted IoT device cloud.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
command_app = typer.Typer(help="Send commands to devices.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(command_app, name="command")

console = Console(stderr=True)
T = TypeVar("T")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Directory of the embedded database.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="e.g. postgresql+asyncpg://user@127.0.0.1/thingport"),
]


def _settings(data_dir: Path | None, database_url: str | None, **extra: object) -> Settings:
    overrides: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)  # type: ignore[arg-type]


def _run(settings: Settings, job: Callable[[Platform], Awaitable[T]], *, migrate: bool = True) -> T:
    async def main() -> T:
        platform = Platform(settings)
        try:
            if migrate:
                await platform.migrate()
            else:
                await platform.check_schema()
            return await job(platform)
        finally:
            await platform.close()

    try:
        return asyncio.run(main())
    except ThingportError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None
    except SchemaMismatch as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


async def _nothing(_platform: Platform) -> None:
    """A job for `_run` when opening the database (migrating or checking it) is the point."""


def _on_ready(info: StartupInfo) -> None:
    _announce(info)
    # What exists now (modules, the app, the engine) lives as long as the process. Moving it
    # out of the collector's reach keeps full collections short on the ingest path
    # (benchmarks/README.md: about 4 ms less per 1,000-point request).
    gc.collect()
    gc.freeze()
    # The event loop shares the GIL with the database driver's worker threads. With the default
    # 5 ms switch interval, the loop waits behind them on every handoff; 0.5 ms took HTTP ingest
    # into SQLite from about 60k to about 100k points/s (benchmarks/README.md).
    sys.setswitchinterval(0.0005)


def _announce(info: StartupInfo) -> None:
    # Plain lines, not a table: URLs must stay whole and copyable in any terminal width.
    base = info.settings.base_url
    console.print("[bold]Thingport is running[/bold]", soft_wrap=True)
    for api in info.apis:
        console.print(
            f"  {api.name}: {base}{api.base_path}   docs: {base}{api.docs_path}", soft_wrap=True
        )
    console.print(f"  health: {base}/healthz", soft_wrap=True)
    console.print(f"  MQTT: {info.mqtt}", soft_wrap=True)
    console.print(f"  database: {info.settings.effective_database_url}", soft_wrap=True)
    if info.demo:
        console.print(
            f"  demo user: {info.demo.username} (password {info.demo.password})", soft_wrap=True
        )
        console.print(f"  demo API token (new at every start): {info.demo.token}", soft_wrap=True)
        console.print(
            f"  try: curl -u {info.demo.token}: {base}/smartmocha/v0/devices", soft_wrap=True
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load demo data and virtual devices.")
    ] = False,
    mqtt_port: Annotated[
        int | None,
        typer.Option(
            "--mqtt-port", help="Embedded MQTT broker port (default 1883; 0: no embedded broker)."
        ),
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(
            "--mqtt-url", help="External MQTT broker, e.g. mqtt://user:pass@127.0.0.1:1883."
        ),
    ] = None,
    migrate: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate",
            help="Upgrade the schema first (default), or leave that to `thingport migrate` and "
            "refuse to start on a schema that is not up to date.",
        ),
    ] = True,
) -> None:
    """Run the server (migrates the database first, unless --no-migrate)."""
    settings = _settings(
        data_dir,
        database_url,
        host=host,
        port=port,
        demo=demo or None,
        mqtt_url=mqtt_url,
        mqtt_port=mqtt_port,
        migrate=None if migrate else False,  # unset: THINGPORT_MIGRATE still applies
    )
    if not settings.migrate:
        # Said here in one line, rather than as a traceback from the server's startup.
        _run(settings, _nothing, migrate=False)
    config = uvicorn.Config(
        create_app(settings, announce=_on_ready),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        lifespan="on",
    )
    uvicorn.Server(config).run()


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema."""
    settings = _settings(data_dir, database_url)
    _run(settings, _nothing)
    console.print(f"database is up to date: {settings.effective_database_url}")


@app.command()
def demo(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Load the demo data into the database and print the demo token."""
    info = _run(_settings(data_dir, database_url), load_demo)
    console.print(f"demo data loaded; user {info.username}, devices: {', '.join(info.devices)}")
    typer.echo(info.token)


@user_app.command("create")
def user_create(
    username: str,
    email: Annotated[str, typer.Option("--email", help="E-mail address.")],
    password: Annotated[
        str | None, typer.Option("--password", help="Prompted for when not given.")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user."""
    if password is None:
        password = getpass.getpass("password: ")
        if password != getpass.getpass("again: "):
            console.print("[red]error:[/red] the passwords differ")
            raise typer.Exit(1)
    try:
        data = UserCreate(
            username=username, email=email, password=password, role="admin" if admin else "user"
        )
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None

    async def create(platform: Platform) -> None:
        async with platform.core() as core:
            await core.accounts.create_user(data)

    _run(_settings(data_dir, database_url), create)
    console.print(f"user {username} created")


@token_app.command("create")
def token_create(
    username: str,
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "cli",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print only the token (it is not shown again)."""

    async def issue(platform: Platform) -> str:
        async with platform.core() as core:
            user = await core.accounts.get_user(username)
            return (await core.accounts.issue_api_key(user.id, name)).token

    typer.echo(_run(_settings(data_dir, database_url), issue))


def _value(text: str) -> object:
    """A command's payload: JSON when it parses (`1`, `true`, `{"on": 1}`), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@command_app.command("send")
def command_send(
    device: Annotated[str, typer.Argument(help="The device's public id (key).")],
    channel: Annotated[str, typer.Argument(help="Channel or path (Cayenne: a channel number).")],
    value: Annotated[str, typer.Argument(help="Payload: JSON, or else taken as text.")],
    user: Annotated[
        str, typer.Option("--user", help="Who sends it: a user who may change the device.")
    ],
    ttl: Annotated[
        int,
        typer.Option(
            "--ttl", min=1, max=30 * 86400, help="Seconds before an unanswered command expires."
        ),
    ] = 600,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Record a command and print its id. This process has no broker connection: a running
    worker that has one publishes it within a second or so (the device's answer then marks
    it answered; see `thingport command show`)."""

    async def send(platform: Platform) -> str:
        # Refused here exactly as a worker would refuse it (a Cayenne channel that is not a
        # number, ...), from the route the workers keep on the device's row.
        platform.command_dispatchers.append(CommandCheck())
        async with platform.core() as core:
            principal = await core.accounts.principal_of(user)
            command = await core.commands.send(
                principal,
                device,
                channel=channel,
                payload=_value(value),
                ttl=timedelta(seconds=ttl),
            )
        return command.id

    typer.echo(_run(_settings(data_dir, database_url), send, migrate=False))


@command_app.command("show")
def command_show(
    command_id: Annotated[str, typer.Argument(help="The id `thingport command send` printed.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print a command as JSON: its state (pending, sent, answered, failed, expired), the
    device's answer or the error."""

    async def show(platform: Platform) -> str:
        async with platform.core() as core:
            return (await core.commands.get(SYSTEM, command_id)).model_dump_json()

    typer.echo(_run(_settings(data_dir, database_url), show, migrate=False))
