from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Account
from thingport.core.accounts.models import ApiKey, User
from thingport.core.accounts.schemas import UserCreate
from thingport.kit.errors import Conflict, Unauthenticated
from thingport.platform import Platform


async def test_password_is_stored_as_argon2_and_verifies(platform: Platform) -> None:
    async with platform.core() as core:
        await core.accounts.create_user(
            UserCreate(username="carol", email="carol@example.com", password="correct horse")
        )
    async with platform.db.sessions() as session:
        user = (await session.execute(select(User).where(User.username == "carol"))).scalar_one()
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2")
    assert "correct horse" not in user.password_hash

    async with platform.core() as core:
        principal = await core.accounts.authenticate_password("carol", "correct horse")
        assert principal.username == "carol"
        by_email = await core.accounts.authenticate_password("carol@example.com", "correct horse")
        assert by_email.user_id == principal.user_id
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_password("carol", "wrong horse")
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_password("nobody", "correct horse")


async def test_duplicate_username_or_email_is_a_conflict(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        with pytest.raises(Conflict):
            await core.accounts.create_user(
                UserCreate(username="alice", email="other@example.com", password="12345678")
            )
        with pytest.raises(Conflict):
            await core.accounts.create_user(
                UserCreate(username="other", email="alice@example.com", password="12345678")
            )


async def test_api_key_is_shown_once_and_stored_hashed(platform: Platform, alice: Account) -> None:
    async with platform.db.sessions() as session:
        keys = (await session.execute(select(ApiKey))).scalars().all()
    assert len(keys) == 1
    secret = alice.token.split("_")[2]
    assert alice.token.startswith(f"tp_{keys[0].prefix}_")
    assert secret not in keys[0].secret_hash
    assert alice.token not in keys[0].secret_hash

    async with platform.core() as core:
        assert (await core.accounts.authenticate_token(alice.token)).username == "alice"
        assert (await core.accounts.authenticate_basic(alice.token, "")).username == "alice"
        for bad in ("", "tp_", "nonsense", alice.token + "x", f"tp_{keys[0].prefix}_wrong"):
            with pytest.raises(Unauthenticated):
                await core.accounts.authenticate_token(bad)


async def test_replacing_a_named_key_revokes_the_old_one(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        first = await core.accounts.issue_api_key(alice.principal.user_id, "demo", replace=True)
    async with platform.core() as core:
        second = await core.accounts.issue_api_key(alice.principal.user_id, "demo", replace=True)
    async with platform.core() as core:
        assert (await core.accounts.authenticate_token(second.token)).username == "alice"
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_token(first.token)
        # the key named "test" from the fixture is untouched
        assert (await core.accounts.authenticate_token(alice.token)).username == "alice"
