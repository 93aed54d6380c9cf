"""ASGI app factory: the lifespan builds the platform, loads demo data, starts the virtual
devices, and mounts every dialect under its own prefix with its own OpenAPI document."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from thingport.demo.data import DemoInfo, load_demo
from thingport.demo.simulator import Simulator
from thingport.dialects.registry import MountedDialect, build_dialects
from thingport.leased import LeasedJob
from thingport.platform import Platform
from thingport.settings import Settings
from thingport.transports.mqtt.auth_http import router as mqtt_auth_router
from thingport.transports.mqtt.bridge import ExternalBroker
from thingport.transports.mqtt.embedded import EmbeddedBroker


@dataclass(frozen=True)
class StartupInfo:
    settings: Settings
    apis: tuple[MountedDialect, ...]
    demo: DemoInfo | None
    mqtt: str = "off"


Announce = Callable[[StartupInfo], None]


COMMAND_EXPIRY_INTERVAL_S = 30.0
UNCLAIMED_COMMANDS_INTERVAL_S = 1.0


async def _expire_commands(platform: Platform) -> None:
    """Open commands past their expiry become expired (until the job scheduler exists)."""
    while True:
        await asyncio.sleep(COMMAND_EXPIRY_INTERVAL_S)
        try:
            async with platform.core() as core:
                await core.commands.expire_due()
        except Exception:  # keep trying; a failed round is logged, not fatal
            logging.getLogger(__name__).exception("expiring commands failed")


async def _deliver_unclaimed_commands(platform: Platform) -> None:
    """Commands recorded where no broker connection was (`thingport command send`) wait in the
    database for a worker that has one. Every such worker looks; the claim in `dispatch` lets
    exactly one of them publish each command."""
    while True:
        await asyncio.sleep(UNCLAIMED_COMMANDS_INTERVAL_S)
        try:
            async with platform.core() as core:
                waiting = await core.commands.unclaimed()
            for delivery in waiting:
                for dispatcher in list(platform.command_dispatchers):
                    await dispatcher.dispatch(delivery)
        except Exception:  # keep trying; a failed round is logged, not fatal
            logging.getLogger(__name__).exception("delivering waiting commands failed")


def create_app(
    settings: Settings, *, announce: Announce | None = None, platform: Platform | None = None
) -> FastAPI:
    apis = build_dialects()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = platform or Platform(settings)
        if settings.migrate:
            await running.migrate()
        else:
            await running.check_schema()
        async with running.core() as core:
            await core.catalog.install_builtin()
        for api in apis:
            api.app.state.platform = running
        app.state.platform = running
        demo = await load_demo(running) if settings.demo else None
        bridge = None
        embedded = None
        mqtt_problem = None
        if not settings.mqtt_url and settings.mqtt_port:
            embedded = EmbeddedBroker(running, host=settings.host, port=settings.mqtt_port)
            try:
                await embedded.start()
            except RuntimeError as error:
                # Not fatal: HTTP works without it, and a broker may already own the port.
                mqtt_problem = str(error)
                logging.getLogger(__name__).warning("%s", error)
                embedded = None
        if settings.mqtt_url:
            bridge = ExternalBroker(
                running,
                settings.mqtt_url,
                client_id=settings.mqtt_client_id,
                share_group=settings.mqtt_share_group,
            )
            await bridge.start()
        # One worker at a time runs these, whichever holds their lease (leased.py).
        singletons = [LeasedJob(running, "command-expiry", lambda: _expire_commands(running))]
        if settings.virtual_devices:
            singletons.append(LeasedJob(running, "virtual-devices", Simulator(running).run))
        for singleton in singletons:
            singleton.start()
        app.state.singletons = singletons  # which of them this worker runs: `held`, `running`
        tasks: list[asyncio.Task[None]] = []
        if running.command_dispatchers:
            tasks.append(
                asyncio.create_task(_deliver_unclaimed_commands(running), name="unclaimed-commands")
            )
        app.state.ready = True
        if announce:
            mqtt = (
                f"embedded broker on {settings.host}:{embedded.port}"
                if embedded is not None
                else f"external broker {settings.mqtt_url.split('@')[-1]}"
                if settings.mqtt_url
                else (mqtt_problem or "off (--mqtt-port 0)")
            )
            announce(StartupInfo(settings, apis, demo, mqtt))
        try:
            yield
        finally:
            app.state.ready = False
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if bridge is not None:
                await bridge.stop()
            if embedded is not None:
                await embedded.stop()
            for singleton in singletons:
                await singleton.stop()
            await running.close()

    app = FastAPI(title="Thingport", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.ready = False

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        if not app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/")
    async def index() -> dict[str, object]:
        return {
            "name": "Thingport",
            "apis": [
                {"name": api.name, "url": api.base_path, "docs": api.docs_path}
                for api in apis
            ],
        }

    for api in apis:
        app.mount(api.prefix, api.app)
    app.include_router(mqtt_auth_router)
    return app
