"""All SQL of the commands domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.commands.models import Command
from thingport.core.commands.schemas import OPEN_STATES


class CommandsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, command: Command) -> None:
        self.session.add(command)
        await self.session.flush()

    async def by_request_id(self, request_id: str) -> Command | None:
        result = await self.session.execute(select(Command).where(Command.request_id == request_id))
        return result.scalar_one_or_none()

    async def for_device(self, device_id: int, limit: int) -> Sequence[Command]:
        result = await self.session.execute(
            select(Command)
            .where(Command.device_id == device_id)
            .order_by(Command.id.desc())
            .limit(limit)
        )
        return result.scalars().all()

    async def claim(self, request_id: str, worker: str, now: datetime, stale: datetime) -> bool:
        """Whether this worker's statement took the command (exactly one worker's does): one
        nobody claimed, or whose claim is older than `stale` and still pending."""
        result = await self.session.execute(
            update(Command)
            .where(Command.request_id == request_id, Command.state == "pending", _free(stale))
            .values(claimed_by=worker, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def release(self, request_id: str, worker: str) -> None:
        """Give back a claim this worker holds on a command still pending."""
        await self.session.execute(
            update(Command)
            .where(
                Command.request_id == request_id,
                Command.state == "pending",
                Command.claimed_by == worker,
            )
            .values(claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )

    async def unclaimed(self, now: datetime, stale: datetime, limit: int) -> Sequence[Command]:
        result = await self.session.execute(
            select(Command)
            .where(Command.state == "pending", _free(stale), Command.expires_at > now)
            .order_by(Command.id)
            .limit(limit)
        )
        return result.scalars().all()

    async def expire_open(self, now: datetime) -> list[tuple[int, str]]:
        """Expire open commands past their time; (device_id, request_id) of each. RETURNING
        names exactly the rows this statement changed, even when an answer races it."""
        result = await self.session.execute(
            update(Command)
            .where(Command.state.in_(OPEN_STATES), Command.expires_at < now)
            .values(state="expired")
            .returning(Command.device_id, Command.request_id)
            .execution_options(synchronize_session=False)
        )
        return [(device_id, request_id) for device_id, request_id in result.all()]


def _free(stale: datetime) -> ColumnElement[bool]:
    """A command no live claim holds: never claimed, or claimed before `stale`."""
    return or_(Command.claimed_by.is_(None), Command.claimed_at < stale)
