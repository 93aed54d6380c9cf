"""The commands domain: record a command, hand it to the transports after commit, track its
state (pending, sent, answered, failed, expired) and correlate the device's answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from thingport.bus.events import CommandUpdated
from thingport.bus.protocol import EventBus
from thingport.core.accounts.schemas import SYSTEM, Principal
from thingport.core.commands.models import Command
from thingport.core.commands.repository import CommandsRepository
from thingport.core.commands.schemas import (
    OPEN_STATES,
    CommandDelivery,
    CommandDispatcher,
    CommandOut,
)
from thingport.core.devices.service import DeviceRef, DevicesService
from thingport.kit.errors import Conflict, InvalidInput, NotFound
from thingport.storage.base import utcnow
from thingport.storage.engine import UnitOfWork

DEFAULT_TTL = timedelta(minutes=10)
MAX_TTL = timedelta(days=30)
# A claim normally turns into "sent" (or is given back) within a publish. One still pending
# this long after belongs to a worker that died in between: another worker may publish the
# command (once more, if the dead one did send it: at least once, never lost).
STALE_CLAIM = timedelta(seconds=60)


def _out(command: Command, device_key: str) -> CommandOut:
    return CommandOut(
        id=command.request_id,
        device_key=device_key,
        channel=command.channel,
        payload=command.payload,
        state=command.state,
        response=command.response,
        error=command.error,
        created_at=command.created_at,
        sent_at=command.sent_at,
        answered_at=command.answered_at,
        expires_at=command.expires_at,
    )


class CommandsService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        devices: DevicesService,
        dispatchers: Sequence[CommandDispatcher],
        bus: EventBus,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.repo = CommandsRepository(uow.session)
        self.devices = devices
        self.dispatchers = dispatchers
        self.bus = bus
        self.clock = clock  # judges claims, which several workers compare

    async def send(
        self,
        principal: Principal,
        device_key: str,
        *,
        payload: Any,
        channel: str | None = None,
        ttl: timedelta = DEFAULT_TTL,
    ) -> CommandOut:
        """Record a command for a device the principal may change; transports deliver it once
        the transaction has committed."""
        if not timedelta(0) < ttl <= MAX_TTL:
            raise InvalidInput("a command must expire within 30 days", field="ttl")
        device = await self.devices.resolve(principal, device_key, change=True)
        command = Command(
            device_id=device.id,
            created_by=principal.user_id,
            channel=channel,
            payload=payload,
            state="pending",
            expires_at=utcnow() + ttl,
        )
        await self.repo.add(command)
        delivery = await self._delivery(command, device)
        dispatchers = list(self.dispatchers)
        for dispatcher in dispatchers:  # raising rolls the command back with the transaction
            dispatcher.check(delivery)

        async def deliver() -> None:
            for dispatcher in dispatchers:
                await dispatcher.dispatch(delivery)

        self.uow.after_commit(deliver)
        return _out(command, device.key)

    async def _delivery(self, command: Command, device: DeviceRef) -> CommandDelivery:
        gateway, route = await self.devices.command_path(device)
        return CommandDelivery(
            command.request_id,
            device.id,
            device.key,
            command.channel,
            command.payload,
            gateway=gateway,
            convention=route.convention if route else None,
            username=route.username if route else None,
        )

    async def claim(self, command_id: str, worker: str) -> bool:
        """Take a pending command to publish it; False when another worker (or another of this
        worker's transports) already has. Several workers may try: each command is published
        by the one whose claim succeeded."""
        now = self.clock()
        return await self.repo.claim(command_id, worker, now, now - STALE_CLAIM)

    async def release(self, command_id: str, worker: str) -> None:
        """Give a claimed command back when it could not be published, so that the next look
        for unclaimed commands (this worker's or another's) tries again."""
        await self.repo.release(command_id, worker)

    async def unclaimed(self, limit: int = 100) -> list[CommandDelivery]:
        """Pending commands no worker has taken to publish yet (recorded by a process without
        a broker connection, such as `thingport command send`), oldest first."""
        deliveries = []
        now = self.clock()
        for command in await self.repo.unclaimed(now, now - STALE_CLAIM, limit):
            # The system reads every device; the command was authorised when it was recorded.
            device = await self.devices.resolve_id(SYSTEM, command.device_id)
            deliveries.append(await self._delivery(command, device))
        return deliveries

    async def get(self, principal: Principal | None, command_id: str) -> CommandOut:
        command = await self.repo.by_request_id(command_id)
        missing = NotFound(f"command {command_id!r} not found", field="command_id")
        if command is None:
            raise missing
        try:
            device = await self.devices.resolve_id(principal, command.device_id)
        except NotFound:
            raise missing from None  # another tenant's command looks like a missing one
        return _out(command, device.key)

    async def for_device(
        self, principal: Principal | None, device_key: str, *, limit: int = 100
    ) -> list[CommandOut]:
        device = await self.devices.resolve(principal, device_key)
        return [_out(c, device.key) for c in await self.repo.for_device(device.id, limit)]

    async def mark_sent(self, command_id: str) -> None:
        """A transport published the command. Only a pending command becomes sent: an answer
        may already have overtaken the bookkeeping."""
        command = await self.repo.by_request_id(command_id)
        if command is not None and command.state == "pending":
            command.state = "sent"
            command.sent_at = utcnow()
            await self.repo.session.flush()
            self._announce(command, await self._device_key(command))

    async def fail(self, command_id: str, error: str) -> None:
        """A transport found it cannot deliver the command: it fails now rather than waiting,
        pending, for its expiry."""
        command = await self.repo.by_request_id(command_id)
        if command is not None and command.state in OPEN_STATES:
            command.state = "failed"
            command.error = error
            await self.repo.session.flush()
            self._announce(command, await self._device_key(command))

    async def answer(
        self,
        device: DeviceRef,
        command_id: str,
        *,
        ok: bool,
        message: str | None = None,
        payload: Any = None,
    ) -> CommandOut:
        """The device's answer (already authorised as that device by the transport)."""
        command = await self.repo.by_request_id(command_id)
        if command is None or command.device_id != device.id:
            raise NotFound(f"command {command_id!r} not found for this device", field="command_id")
        if command.state not in OPEN_STATES:
            raise Conflict(f"command {command_id!r} is already {command.state}", field="state")
        command.state = "answered" if ok else "failed"
        command.response = payload
        command.error = None if ok else (message or "the device reported an error")
        command.answered_at = utcnow()
        await self.repo.session.flush()
        self._announce(command, device.key)
        return _out(command, device.key)

    async def expire_due(self) -> int:
        """Mark open commands past their expiry as expired, announcing each; returns how many."""
        expired = await self.repo.expire_open(utcnow())
        if expired:
            keys = await self.devices.repo.keys_by_id(sorted({d for d, _ in expired}))
            self._publish(
                [
                    CommandUpdated(device_id, keys.get(device_id, ""), request_id, "expired")
                    for device_id, request_id in expired
                ]
            )
        return len(expired)

    async def _device_key(self, command: Command) -> str:
        keys = await self.devices.repo.keys_by_id([command.device_id])
        return keys.get(command.device_id, "")

    def _announce(self, command: Command, device_key: str) -> None:
        self._publish(
            [CommandUpdated(command.device_id, device_key, command.request_id, command.state)]
        )

    def _publish(self, events: list[CommandUpdated]) -> None:
        bus = self.bus

        async def publish_command_events() -> None:
            await bus.publish(events)

        self.uow.after_commit(publish_command_events)
