"""The accounts domain: users, API keys, and turning credentials into a principal.

Every dialect authenticates through `AccountsService.authenticate_*`, so the rules for tokens and
passwords live here once.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Literal

from thingport.core.access import can_change
from thingport.core.accounts.models import ApiKey, MqttCredential, PasswordReset, User
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
    ProfileInput,
    Role,
    UserCreate,
    UserOut,
    UserProfile,
)
from thingport.core.accounts.token_cache import TokenCache
from thingport.core.accounts.validation import normalized, password_errors
from thingport.core.groups.schemas import GroupRole
from thingport.core.notify.mail import Mailer, Outbox, UnconfiguredMailer
from thingport.kit.errors import Conflict, InvalidFields, NotFound, Problem, Unauthenticated
from thingport.kit.listing import ListQuery, Page
from thingport.storage.base import utcnow
from thingport.storage.engine import UnitOfWork

# Token layout: "tp_<prefix>_<secret>". The prefix finds the row; only the secret's hash is stored.
TOKEN_TAG = "tp"
_PREFIX_BYTES = 6
_SECRET_BYTES = 24
# A password-reset token travels in a URL path and an e-mail; 32 bytes make guessing hopeless.
_RESET_TOKEN_BYTES = 32
SESSION_KEY_NAME = "session"

ResetLookup = Literal["email", "username", "either"]


def _split_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != TOKEN_TAG or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _principal_of(user: User, memberships: Iterable[tuple[int, str]]) -> Principal:
    """The principal a user authenticates as, with their memberships: (group id, role) pairs."""
    pairs = list(memberships)
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        group_ids=frozenset(group_id for group_id, _ in pairs),
        admin_group_ids=frozenset(
            group_id for group_id, role in pairs if role == GroupRole.ADMINISTRATOR
        ),
    )


def _profile(user: User, viewer: Principal | None) -> UserProfile:
    authorized = can_change(viewer, owner_id=user.id)
    return UserProfile(
        id=user.id,
        uuid=user.uuid,
        username=user.username,
        role=user.role,
        first_name=user.first_name,
        last_name=user.last_name,
        city=user.city,
        country_code=user.country_code,
        url=user.url,
        avatar_url=user.avatar_url,
        created_at=user.created_at,
        updated_at=user.updated_at,
        email=user.email if authorized else None,
        authorized=authorized,
    )


def _taken_meanwhile() -> InvalidFields:
    """Two requests claimed the same username or e-mail at once and the unique index refused
    this one; it does not say which of the two fields."""
    return InvalidFields({"username": [Problem.taken(concurrent=True)]})


class AccountsService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        token_cache: TokenCache | None = None,
        mailer: Mailer | None = None,
        password_reset_validity: timedelta = timedelta(hours=1),
    ) -> None:
        self.uow = uow
        self.repo = AccountsRepository(uow.session)
        self.token_cache = token_cache or TokenCache(ttl_seconds=0)
        self.outbox = Outbox(uow, mailer or UnconfiguredMailer("thingport@localhost"))
        self.password_reset_validity = password_reset_validity

    async def create_user(self, data: UserCreate) -> UserOut:
        # Case-insensitive, the same rule as sign-up: "Alice" may not join next to "alice".
        if await self.repo.taken(username=data.username, email=data.email, exclude_id=None):
            raise Conflict("username or email is already taken", field="username")
        user = User(
            username=data.username,
            email=data.email,
            role=data.role.value,
            password_hash=hash_password(data.password) if data.password else None,
        )
        await self.repo.add(user)
        return UserOut.model_validate(user, from_attributes=True)

    async def get_user(self, username: str) -> UserOut:
        user = await self.repo.user_by_username(username)
        if user is None:
            raise NotFound(entity="user", by="name", key=username)
        return UserOut.model_validate(user, from_attributes=True)

    async def principal_of(self, username: str) -> Principal:
        """The principal a user acts as, memberships included, for operators acting in a user's
        name without the user's credential (the CLI, which runs with the database's rights)."""
        user = await self.repo.user_by_username(username)
        if user is None:
            raise NotFound(entity="user", by="name", key=username)
        return await self._principal(user)

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
        of that name. Credentials first, in the same order as `authenticate_mqtt`. Memberships
        are kept: an administrator of a group a device is shared with may use its topics."""
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
        return await self._principal(user)

    async def _principal(self, user: User) -> Principal:
        return _principal_of(user, await self.repo.memberships_of(user.id))

    async def authenticate_token(self, token: str) -> Principal:
        token = token.strip()
        cached = self.token_cache.get(token)
        if cached is not None:
            return cached
        parts = _split_token(token)
        found = await self.repo.token_owner(parts[0]) if parts else None
        if parts is None or found is None or not secret_matches(found[0], parts[1]):
            raise Unauthenticated("invalid API token")
        _, user, memberships = found
        principal = _principal_of(user, memberships)
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

    # --- profiles: sign-up, reading, listing, updating -------------------------------------

    async def _checked(
        self, data: ProfileInput, *, creating: bool, user_id: int | None = None
    ) -> dict[str, str | None]:
        values, errors = normalized(data, creating=creating)
        taken = await self.repo.taken(
            username=values.get("username") if "username" not in errors else None,
            email=values.get("email") if "email" not in errors else None,
            exclude_id=user_id,
        )
        for name in sorted(taken):
            errors.setdefault(name, []).append(Problem.taken())
        if errors:
            raise InvalidFields(errors)
        return values

    async def register_user(
        self, data: ProfileInput, viewer: Principal | None = None
    ) -> UserProfile:
        """Sign-up: every field checked at once (`InvalidFields` lists all problems)."""
        values = await self._checked(data, creating=True)
        password = values.pop("password")
        assert password is not None  # a required field: _checked refused a blank one
        user = User(password_hash=hash_password(password), role=Role.USER.value, **values)
        if not await self.repo.save_user(user):
            raise _taken_meanwhile()
        return _profile(user, viewer)

    async def update_profile(self, principal: Principal, data: ProfileInput) -> UserProfile:
        """The caller changes their own details; only the fields set in `data` change."""
        user = await self.repo.user_by_id(principal.user_id)
        if user is None:
            raise NotFound(entity="user", by="other")
        values = await self._checked(data, creating=False, user_id=user.id)
        if "password" in values:
            password = values.pop("password")
            assert password is not None
            user.password_hash = hash_password(password)
            await self._end_sessions(user.id)
        for name, value in values.items():
            setattr(user, name, value)
        user.updated_at = utcnow()
        if not await self.repo.save_user(user):
            raise _taken_meanwhile()
        return _profile(user, principal)

    async def profile(self, viewer: Principal | None, user_id: int) -> UserProfile:
        user = await self.repo.user_by_id(user_id)
        if user is None:
            raise NotFound(entity="user", key=user_id)
        return _profile(user, viewer)

    async def find_profile(self, viewer: Principal | None, ref: str) -> UserProfile:
        """A user by id (all digits) or else by username. Profiles are public; what the viewer
        may see of them is decided in `_profile`."""
        user = await self.repo.user_by_id(int(ref)) if ref.isdigit() else None
        if user is None:
            user = await self.repo.user_by_username(ref)
        if user is None:
            if ref.isdigit():
                raise NotFound(entity="user", key=ref)
            raise NotFound(entity="user", by="name", key=ref)
        return _profile(user, viewer)

    async def list_users(self, viewer: Principal | None, query: ListQuery) -> Page[UserProfile]:
        users, total = await self.repo.users_page(query)
        return Page([_profile(user, viewer) for user in users], total, query)

    # --- sessions and password resets ------------------------------------------------------

    async def start_session(self, login: str, password: str) -> IssuedApiKey:
        """Log in with username or e-mail (any case) and password; a new API token named
        "session". An unknown login is `NotFound`, a wrong password `Unauthenticated` on the
        field "password": clients show them differently."""
        user = await self.repo.user_by_login(login)
        if user is None:
            raise NotFound(entity="user", by="other")
        if not user.password_hash or not verify_password(user.password_hash, password):
            raise Unauthenticated("wrong password", field="password")
        return await self.issue_api_key(user.id, SESSION_KEY_NAME)

    async def request_password_reset(
        self, login: str, *, by: ResetLookup = "either", instructions: str | None = None
    ) -> None:
        """E-mail the user a single-use reset token (sent once the transaction commits).

        `instructions`, if given, is added to the e-mail with `{token}` replaced: how the
        dialect the request came through expects the token back.
        """
        user = await self.repo.user_by_login(
            login, by_username=by in ("username", "either"), by_email=by in ("email", "either")
        )
        if user is None:
            raise NotFound(entity="user", by="other")
        token = secrets.token_urlsafe(_RESET_TOKEN_BYTES)
        now = utcnow()
        await self.repo.add(
            PasswordReset(
                user_id=user.id,
                token_hash=hash_secret(token),
                created_at=now,
                expires_at=now + self.password_reset_validity,
            )
        )
        minutes = int(self.password_reset_validity.total_seconds() // 60)
        body = (
            f"Hello {user.username},\n\n"
            "someone, hopefully you, asked to reset the password of your account. "
            "Your password reset token is:\n\n"
            f"    {token}\n\n"
            f"It can be used once, within {minutes} minutes.\n"
        )
        if instructions:
            body += "\n" + instructions.replace("{token}", token) + "\n"
        body += "\nIf you did not ask for this, ignore this e-mail: your password stays as it is.\n"
        self.outbox.queue(to=user.email, subject="Password reset instructions", body=body)

    async def _reset_user(self, token: str) -> tuple[PasswordReset, User]:
        reset = await self.repo.open_password_reset(hash_secret(token), utcnow())
        user = await self.repo.user_by_id(reset.user_id) if reset is not None else None
        if reset is None or user is None:
            raise NotFound(entity="user", by="other")
        return reset, user

    async def password_reset_profile(self, token: str, viewer: Principal | None) -> UserProfile:
        """Whose password an open reset token would change (unknown, used or expired: 404)."""
        _, user = await self._reset_user(token)
        return _profile(user, viewer)

    async def _end_sessions(self, user_id: int) -> None:
        """A new password ends the login sessions the old one opened (a stolen session token
        stops working); API tokens made on purpose (`thingport token create`) stay."""
        await self.repo.delete_api_keys_named(user_id, SESSION_KEY_NAME)
        cache = self.token_cache

        async def forget() -> None:
            cache.forget_user(user_id)

        self.uow.after_commit(forget)

    async def reset_password(
        self, token: str, password: str, viewer: Principal | None
    ) -> UserProfile:
        """Set a new password with a reset token; the token and any other open ones of that
        user are spent."""
        _, user = await self._reset_user(token)
        problems = password_errors(password)
        if problems:
            raise InvalidFields({"password": problems})
        user.password_hash = hash_password(password)
        user.updated_at = utcnow()
        await self.repo.close_password_resets(user.id, utcnow())
        await self._end_sessions(user.id)
        await self.uow.session.flush()
        return _profile(user, viewer)
