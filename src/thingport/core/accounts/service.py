"""The accounts domain: users, API keys, and turning credentials into a principal.

Every dialect authenticates through `AccountsService.authenticate_*`, so the rules for tokens and
passwords live here once.
"""

from __future__ import annotations

import secrets
import uuid

from thingport.core.accounts.models import ApiKey, MqttCredential, User
from thingport.core.accounts.passwords import (
    hash_password,
    hash_secret,
    secret_matches,
    verify_password,
)
from thingport.core.accounts.repository import AccountsRepository
from thingport.core.accounts.schemas import (
    IssuedApiKey,
    IssuedMqttCredentials,
    Principal,
    UserCreate,
    UserOut,
)
from thingport.core.accounts.token_cache import TokenCache
from thingport.kit.errors import Conflict, NotFound, Unauthenticated
from thingport.storage.engine import UnitOfWork

# Token layout: "tp_<prefix>_<secret>". The prefix finds the row; only the secret's hash is stored.
TOKEN_TAG = "tp"
_PREFIX_BYTES = 6
_SECRET_BYTES = 24


def _split_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != TOKEN_TAG or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class AccountsService:
    def __init__(self, uow: UnitOfWork, *, token_cache: TokenCache | None = None) -> None:
        self.uow = uow
        self.repo = AccountsRepository(uow.session)
        self.token_cache = token_cache or TokenCache(ttl_seconds=0)

    async def create_user(self, data: UserCreate) -> UserOut:
        if await self.repo.username_or_email_taken(data.username, data.email):
            raise Conflict("username or email is already taken", field="username")
        user = User(
            username=data.username,
            email=data.email,
            role=data.role,
            password_hash=hash_password(data.password) if data.password else None,
        )
        await self.repo.add(user)
        return UserOut.model_validate(user, from_attributes=True)

    async def get_user(self, username: str) -> UserOut:
        user = await self.repo.user_by_username(username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return UserOut.model_validate(user, from_attributes=True)

    async def issue_api_key(
        self, user_id: int, name: str, *, replace: bool = False
    ) -> IssuedApiKey:
        """Create an API key and return its token; this is the only time the token is visible.

        With replace=True, earlier keys of that user with the same name are revoked first (the demo
        key is rotated on every start this way).
        """
        if replace:
            await self.repo.delete_api_keys_named(user_id, name)
            cache = self.token_cache

            async def forget_revoked() -> None:
                cache.forget_user(user_id)

            self.uow.after_commit(forget_revoked)
        prefix = secrets.token_hex(_PREFIX_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES).replace("_", "-")
        key = ApiKey(user_id=user_id, name=name, prefix=prefix, secret_hash=hash_secret(secret))
        await self.repo.add(key)
        return IssuedApiKey(id=key.id, name=name, token=f"{TOKEN_TAG}_{prefix}_{secret}")

    async def issue_mqtt_credentials(self, user_id: int) -> IssuedMqttCredentials:
        """A new MQTT user name and password for a user's devices (Cayenne's clients)."""
        secret = secrets.token_hex(20)
        credential = MqttCredential(
            id=str(uuid.uuid4()), user_id=user_id, secret_hash=hash_secret(secret)
        )
        await self.repo.add(credential)
        return IssuedMqttCredentials(username=credential.id, password=secret)

    async def authenticate_mqtt(self, username: str, password: str) -> Principal:
        """An MQTT CONNECT: issued MQTT credentials, or any user name with an API token as the
        password (what a native device is given)."""
        credential = await self.repo.mqtt_credential(username) if username else None
        if credential is not None:
            if not secret_matches(credential.secret_hash, password):
                raise Unauthenticated("invalid MQTT credentials")
            user = await self.repo.user_by_id(credential.user_id)
            if user is None:  # pragma: no cover - the foreign key cascades
                raise Unauthenticated("invalid MQTT credentials")
            return await self._principal(user)
        if password.startswith(f"{TOKEN_TAG}_"):
            return await self.authenticate_token(password)
        raise Unauthenticated("invalid MQTT credentials")

    async def mqtt_principal(self, username: str) -> Principal | None:
        """Who an MQTT user name stands for, without its password (the broker authenticated the
        connection already and now asks about topics): an MQTT credential's user, else the user
        of that name. Credentials first, in the same order as `authenticate_mqtt`. Groups are
        left out: only owning or administering a device grants changing it."""
        if not username:
            return None
        credential = await self.repo.mqtt_credential(username)
        user = (
            await self.repo.user_by_id(credential.user_id)
            if credential is not None
            else await self.repo.user_by_username(username)
        )
        if user is None:
            return None
        return Principal(user_id=user.id, username=user.username, role=user.role)

    async def _principal(self, user: User) -> Principal:
        return Principal(
            user_id=user.id,
            username=user.username,
            role=user.role,
            group_ids=await self.repo.group_ids_of(user.id),
        )

    async def authenticate_token(self, token: str) -> Principal:
        token = token.strip()
        cached = self.token_cache.get(token)
        if cached is not None:
            return cached
        parts = _split_token(token)
        found = await self.repo.token_owner(parts[0]) if parts else None
        if parts is None or found is None or not secret_matches(found[0], parts[1]):
            raise Unauthenticated("invalid API token")
        _, user, group_ids = found
        principal = Principal(
            user_id=user.id, username=user.username, role=user.role, group_ids=group_ids
        )
        self.token_cache.put(token, principal)
        return principal

    async def authenticate_password(self, login: str, password: str) -> Principal:
        user = await self.repo.user_by_login(login)
        if (
            user is None
            or not user.password_hash
            or not verify_password(user.password_hash, password)
        ):
            raise Unauthenticated("invalid username or password")
        return await self._principal(user)

    async def authenticate_basic(self, username: str, password: str) -> Principal:
        """HTTP Basic: an API token as user name with an empty password, or a real login."""
        if password == "":
            return await self.authenticate_token(username)
        return await self.authenticate_password(username, password)
