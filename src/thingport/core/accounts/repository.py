"""All SQL of the accounts domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.accounts.models import ApiKey, MqttCredential, PasswordReset, User
from thingport.core.groups.models import GroupMember
from thingport.kit.listing import ListQuery
from thingport.storage.listing import filtered

# What a list of users may be filtered and sorted on: public profile fields only, never the
# e-mail address, password hash or verification key.
USER_LIST_COLUMNS: dict[str, Any] = {
    "id": User.id,
    "uuid": User.uuid,
    "username": User.username,
    "first_name": User.first_name,
    "last_name": User.last_name,
    "city": User.city,
    "country_code": User.country_code,
    "created_at": User.created_at,
    "updated_at": User.updated_at,
}


class AccountsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def mqtt_credential(self, credential_id: str) -> MqttCredential | None:
        return await self.session.get(MqttCredential, credential_id)

    async def add(self, obj: User | ApiKey | MqttCredential | PasswordReset) -> None:
        self.session.add(obj)
        await self.session.flush()

    async def save_user(self, user: User) -> bool:
        """Insert or update a user; False when the database refused it as a duplicate username
        or e-mail (a concurrent sign-up won the race the service's check cannot close). The
        transaction is spoilt then, and the caller must raise so that it rolls back. (No
        savepoint: with the pysqlite driver, releasing one would commit the whole transaction.)"""
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def user_by_id(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_username(self, username: str) -> User | None:
        result = await self.session.execute(select(User).where(User.username == username))
        return result.scalar_one_or_none()

    async def user_by_login(
        self, login: str, *, by_username: bool = True, by_email: bool = True
    ) -> User | None:
        """A user by username or e-mail, ignoring case, as people type either into a login
        form. An exact match wins over one differing only in case (older accounts may differ
        only in case)."""
        conditions: list[ColumnElement[bool]] = []
        if by_username:
            conditions.append(func.lower(User.username) == login.lower())
        if by_email:
            conditions.append(func.lower(User.email) == login.lower())
        if not conditions:
            return None
        result = await self.session.execute(select(User).where(or_(*conditions)).limit(10))
        users = list(result.scalars().all())

        def exact(user: User) -> bool:
            return (by_username and user.username == login) or (by_email and user.email == login)

        users.sort(key=lambda user: (not exact(user), user.id))
        return users[0] if users else None

    async def taken(
        self, *, username: str | None, email: str | None, exclude_id: int | None
    ) -> set[str]:
        """Which of username and e-mail another user already has, ignoring case."""
        found: set[str] = set()
        for name, column, value in (
            ("username", User.username, username),
            ("email", User.email, email),
        ):
            if value is None:
                continue
            statement = select(User.id).where(func.lower(column) == value.lower())
            if exclude_id is not None:
                statement = statement.where(User.id != exclude_id)
            if (await self.session.execute(statement.limit(1))).first() is not None:
                found.add(name)
        return found

    async def users_page(self, query: ListQuery) -> tuple[list[User], int]:
        statement, count = filtered(select(User), USER_LIST_COLUMNS, query, tie_breaker=User.id)
        users = list((await self.session.execute(statement)).scalars().all())
        total = (await self.session.execute(count)).scalar_one()
        return users, int(total)

    async def open_password_reset(self, token_hash: str, now: datetime) -> PasswordReset | None:
        """A reset token that is neither used nor expired, locked against a concurrent use."""
        result = await self.session.execute(
            select(PasswordReset)
            .where(
                PasswordReset.token_hash == token_hash,
                PasswordReset.used_at.is_(None),
                PasswordReset.expires_at > now,
            )
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def close_password_resets(self, user_id: int, now: datetime) -> None:
        """Every open reset token of the user is spent: a new password ends them all."""
        await self.session.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )

    async def token_owner(
        self, prefix: str
    ) -> tuple[str, User, list[tuple[int, str]]] | None:
        """The key's secret hash, its user and the user's memberships (group id, role), in one
        round trip: this runs on every token-authenticated request."""
        result = await self.session.execute(
            select(ApiKey.secret_hash, User, GroupMember.group_id, GroupMember.role)
            .join(User, User.id == ApiKey.user_id)
            .outerjoin(GroupMember, GroupMember.user_id == User.id)
            .where(ApiKey.prefix == prefix)
        )
        rows = result.all()
        if not rows:
            return None
        memberships = [(row[2], row[3]) for row in rows if row[2] is not None]
        return rows[0][0], rows[0][1], memberships

    async def delete_api_keys_named(self, user_id: int, name: str) -> None:
        await self.session.execute(
            delete(ApiKey).where(ApiKey.user_id == user_id, ApiKey.name == name)
        )

    async def memberships_of(self, user_id: int) -> list[tuple[int, str]]:
        """(group id, role) of every group the user belongs to."""
        result = await self.session.execute(
            select(GroupMember.group_id, GroupMember.role).where(GroupMember.user_id == user_id)
        )
        return [(row[0], row[1]) for row in result.all()]
