"""All SQL of the groups domain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.accounts.models import User
from thingport.core.groups.models import DeviceGroup, Group, GroupMember


class GroupsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, obj: Group | GroupMember | DeviceGroup) -> None:
        self.session.add(obj)
        await self.session.flush()

    async def by_id(self, group_id: int) -> Group | None:
        return await self.session.get(Group, group_id)

    async def membership(self, group_id: int, user_id: int) -> GroupMember | None:
        return await self.session.get(GroupMember, (group_id, user_id))

    async def groups_of(self, user_id: int) -> list[tuple[Group, str]]:
        """The groups a user belongs to, with their role in each, in id order."""
        result = await self.session.execute(
            select(Group, GroupMember.role)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user_id)
            .order_by(Group.id)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def members(self, group_id: int) -> list[tuple[GroupMember, str]]:
        """A group's members with their user names, in user id order."""
        result = await self.session.execute(
            select(GroupMember, User.username)
            .join(User, User.id == GroupMember.user_id)
            .where(GroupMember.group_id == group_id)
            .order_by(GroupMember.user_id)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def count_with_role(self, group_id: int, role: str) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(GroupMember)
            .where(GroupMember.group_id == group_id, GroupMember.role == role)
        )
        return int(result.scalar_one())

    async def remove(self, obj: GroupMember | DeviceGroup) -> None:
        await self.session.delete(obj)
        await self.session.flush()

    async def share(self, group_id: int, device_id: int) -> DeviceGroup | None:
        return await self.session.get(DeviceGroup, (device_id, group_id))
