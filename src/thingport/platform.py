"""The long-lived parts of a running Thingport, and the per-transaction view of the core."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import cached_property

from thingport.bus.protocol import EventBus
from thingport.bus.registry import build_bus
from thingport.core.accounts.schemas import Principal
from thingport.core.accounts.service import AccountsService
from thingport.core.accounts.token_cache import TokenCache
from thingport.core.catalog.sensor_readings import SensorRefusal, SensorValue, sensor_readings
from thingport.core.catalog.service import CatalogService
from thingport.core.commands.schemas import CommandDispatcher
from thingport.core.commands.service import CommandsService
from thingport.core.devices.service import DeviceRef, DevicesService
from thingport.core.groups.service import GroupsService
from thingport.core.leases.service import LeasesService
from thingport.core.live.service import LiveService
from thingport.core.notify.mail import Mailer, build_mailer
from thingport.core.telemetry.schemas import Reading
from thingport.core.telemetry.service import SeriesCache, TelemetryService
from thingport.settings import Settings
from thingport.storage.base import utcnow
from thingport.storage.engine import Database, UnitOfWork, build_engine
from thingport.storage.migrate import schema_problem, upgrade
from thingport.storage.timeseries import PointStore


class SchemaMismatch(RuntimeError):
    """The database's schema is not this code's, and this process may not migrate it."""


class Platform:
    """Engine, bus, point store and caches: built once per process."""

    def __init__(self, settings: Settings, *, bus: EventBus | None = None) -> None:
        self.settings = settings
        self.db = Database(build_engine(settings.effective_database_url))
        self.bus = bus or build_bus(settings.bus_url)
        self.store = PointStore(self.db.backend)
        self.series_cache = SeriesCache()
        self.token_cache = TokenCache(settings.auth_cache_seconds)
        self.mailer: Mailer = build_mailer(settings)
        # Transports that deliver commands (MQTT) register here when they start.
        self.command_dispatchers: list[CommandDispatcher] = []
        # Who this process is among the workers sharing the database (lease holder, command
        # claims): unique even for two workers on one host with the same settings.
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        # The wall clock leases and command claims are judged by (tests put their own here).
        self.clock: Callable[[], datetime] = utcnow

    async def migrate(self) -> None:
        await upgrade(self.db.engine)

    async def check_schema(self) -> None:
        """Refuse to run on a schema other than this code's (`--no-migrate` deployments)."""
        problem = await schema_problem(self.db.engine)
        if problem is not None:
            raise SchemaMismatch(f"{problem}: run `thingport migrate` first")

    @asynccontextmanager
    async def core(self) -> AsyncIterator[Core]:
        """One transaction's worth of core services, committed when the block ends cleanly."""
        async with self.db.unit_of_work() as uow:
            yield Core(self, uow)

    async def close(self) -> None:
        await self.bus.close()
        await self.db.dispose()


class Core:
    """The core services sharing one unit of work. Dialects and transports talk only to this."""

    def __init__(self, platform: Platform, uow: UnitOfWork) -> None:
        self.platform = platform
        self.uow = uow

    async def delete_device(self, principal: Principal, key: str) -> DeviceRef:
        """A device and everything recorded for it; refused (403/404) unless the principal may
        delete it (`core.access.DELETABLE`). Spans two domains, so it lives here rather than in
        either service."""
        device = await self.devices.resolve_deletable(principal, key)
        await self.telemetry.delete_device_data(device)
        return await self.devices.delete(principal, key)

    async def sensor_readings(
        self, device_id: int, type_id: int | None, entries: Sequence[SensorValue]
    ) -> tuple[list[Reading], list[SensorRefusal]]:
        """Values named by sensor id or key, as readings of the device's series (kit
        `type_id`), and the values refused (core/catalog/sensor_readings.py). Needs the
        catalogue and the device's series, so it lives here rather than in either service."""
        return await sensor_readings(self.catalog, self.telemetry, device_id, type_id, entries)

    @cached_property
    def accounts(self) -> AccountsService:
        return AccountsService(
            self.uow,
            token_cache=self.platform.token_cache,
            mailer=self.platform.mailer,
            password_reset_validity=timedelta(
                minutes=self.platform.settings.password_reset_minutes
            ),
        )

    @cached_property
    def devices(self) -> DevicesService:
        return DevicesService(
            self.uow,
            online_window=timedelta(seconds=self.platform.settings.online_window_seconds),
            bus=self.platform.bus,
        )

    @cached_property
    def groups(self) -> GroupsService:
        return GroupsService(
            self.uow,
            accounts=self.accounts,
            devices=self.devices,
            token_cache=self.platform.token_cache,
        )

    @cached_property
    def commands(self) -> CommandsService:
        return CommandsService(
            self.uow,
            devices=self.devices,
            dispatchers=self.platform.command_dispatchers,
            bus=self.platform.bus,
            clock=self.platform.clock,
        )

    @cached_property
    def leases(self) -> LeasesService:
        return LeasesService(self.uow, clock=self.platform.clock)

    @cached_property
    def telemetry(self) -> TelemetryService:
        return TelemetryService(
            self.uow,
            devices=self.devices,
            store=self.platform.store,
            bus=self.platform.bus,
            cache=self.platform.series_cache,
        )

    @cached_property
    def catalog(self) -> CatalogService:
        return CatalogService(self.uow)

    @cached_property
    def live(self) -> LiveService:
        # Checks access in this transaction; the subscriptions it returns live on the
        # platform's bus, past this transaction, until closed or until the bus closes.
        return LiveService(devices=self.devices, bus=self.platform.bus)
