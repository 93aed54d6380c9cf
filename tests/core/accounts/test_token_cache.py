from __future__ import annotations

import pytest
from sqlalchemy import delete

from tests.conftest import Account
from thingport.core.accounts.models import ApiKey
from thingport.core.accounts.token_cache import TokenCache
from thingport.kit.errors import Unauthenticated
from thingport.platform import Platform


async def _revoke_behind_the_cache(platform: Platform) -> None:
    """What another process (a second worker, the CLI) revoking every key looks like."""
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(delete(ApiKey))


async def test_a_verified_token_is_remembered_for_the_ttl_only(
    platform: Platform, alice: Account
) -> None:
    now = [1000.0]
    platform.token_cache.clock = lambda: now[0]
    platform.token_cache.ttl = 0.3
    async with platform.core() as core:
        assert (await core.accounts.authenticate_token(alice.token)).username == "alice"
    await _revoke_behind_the_cache(platform)
    async with platform.core() as core:  # within the ttl: still known
        assert (await core.accounts.authenticate_token(alice.token)).username == "alice"
    now[0] += 0.3  # the last moment of the ttl: still known
    async with platform.core() as core:
        assert (await core.accounts.authenticate_token(alice.token)).username == "alice"
    now[0] += 0.01
    async with platform.core() as core:
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_token(alice.token)


async def test_ttl_zero_checks_every_time(platform: Platform, alice: Account) -> None:
    platform.token_cache.ttl = 0
    async with platform.core() as core:
        await core.accounts.authenticate_token(alice.token)
    await _revoke_behind_the_cache(platform)
    async with platform.core() as core:
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_token(alice.token)


async def test_revocation_in_this_process_is_immediate(platform: Platform, alice: Account) -> None:
    platform.token_cache.ttl = 60
    async with platform.core() as core:
        old = await core.accounts.issue_api_key(alice.principal.user_id, "rotating")
    async with platform.core() as core:
        await core.accounts.authenticate_token(old.token)  # now cached
        await core.accounts.issue_api_key(alice.principal.user_id, "rotating", replace=True)
    async with platform.core() as core:
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_token(old.token)


def test_cache_keys_are_hashes_not_tokens() -> None:
    from thingport.core.accounts.schemas import Principal

    cache = TokenCache(ttl_seconds=10)
    cache.put("tp_abc_secret", Principal(user_id=1, username="u"))
    assert "tp_abc_secret" not in cache._entries
    assert cache.get("tp_abc_secret") == Principal(user_id=1, username="u")
    assert cache.get("tp_abc_other") is None
