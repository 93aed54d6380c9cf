"""All SQL of the accounts domain."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.accounts.models import ApiKey, GroupMember, MqttCredential, User


class AccountsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def mqtt_credential(self, credential_id: str) -> MqttCredential | None:
        return await self.session.get(MqttCredential, credential_id)

    async def add(self, obj: User | ApiKey | MqttCredential) -> None:
        self.session.add(obj)
        await self.session.flush()

    async def user_by_id(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_username(self, username: str) -> User | None:
        result = await self.session.execute(select(User).where(User.username == username))
        return result.scalar_one_or_none()

    async def user_by_login(self, login: str) -> User | None:
        """A user by username or e-mail, as people type either into a login form."""
        result = await self.session.execute(
            select(User).where((User.username == login) | (User.email == login))
        )
        return result.scalars().first()

    async def username_or_email_taken(self, username: str, email: str) -> bool:
        result = await self.session.execute(
            select(User.id).where((User.username == username) | (User.email == email)).limit(1)
        )
        return result.first() is not None

    async def token_owner(self, prefix: str) -> tuple[str, User, frozenset[int]] | None:
        """The key's secret hash, its user and the user's groups, in one round trip: this runs
        on every token-authenticated request."""
        result = await self.session.execute(
            select(ApiKey.secret_hash, User, GroupMember.group_id)
            .join(User, User.id == ApiKey.user_id)
            .outerjoin(GroupMember, GroupMember.user_id == User.id)
            .where(ApiKey.prefix == prefix)
        )
        rows = result.all()
        if not rows:
            return None
        groups = frozenset(row[2] for row in rows if row[2] is not None)
        return rows[0][0], rows[0][1], groups

    async def delete_api_keys_named(self, user_id: int, name: str) -> None:
        await self.session.execute(
            delete(ApiKey).where(ApiKey.user_id == user_id, ApiKey.name == name)
        )

    async def group_ids_of(self, user_id: int) -> frozenset[int]:
        result = await self.session.execute(
            select(GroupMember.group_id).where(GroupMember.user_id == user_id)
        )
        return frozenset(result.scalars().all())
