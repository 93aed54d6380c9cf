"""Password resets (core): token e-mailed after commit, stored hashed, single use, expiring."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import SmtpSink, make_account
from thingport.core.accounts.models import PasswordReset
from thingport.core.accounts.schemas import ProfileInput
from thingport.kit.errors import InvalidFields, NotFound, Unauthenticated
from thingport.platform import Platform
from thingport.settings import Settings
from thingport.storage.base import utcnow


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    return smtp_sink.configure(settings)


def _token(sink: SmtpSink) -> str:
    body = sink.messages[-1].get_content()
    match = re.search(r"token is:\s+(\S+)", body)
    assert match, body
    return match[1]


async def test_reset_token_is_mailed_hashed_and_single_use(
    platform: Platform, smtp_sink: SmtpSink
) -> None:
    await make_account(platform, "erin", password="old password")
    async with platform.core() as core:
        await core.accounts.request_password_reset(
            "ERIN@example.com", by="email", instructions="PUT /resets/{token}"
        )
        assert smtp_sink.messages == []  # not before the commit
    assert len(smtp_sink.messages) == 1
    mail = smtp_sink.messages[0]
    assert mail["To"] == "erin@example.com"
    token = _token(smtp_sink)
    assert f"PUT /resets/{token}" in mail.get_content()
    async with platform.db.sessions() as session:
        stored = (await session.execute(select(PasswordReset))).scalar_one()
    assert token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(minutes=60)

    async with platform.core() as core:
        assert (await core.accounts.password_reset_profile(token, None)).username == "erin"
        with pytest.raises(InvalidFields):
            await core.accounts.reset_password(token, "short", None)
        await core.accounts.reset_password(token, "new password", None)
    async with platform.core() as core:
        await core.accounts.start_session("erin", "new password")
        with pytest.raises(Unauthenticated):
            await core.accounts.start_session("erin", "old password")
        with pytest.raises(NotFound):
            await core.accounts.password_reset_profile(token, None)
        with pytest.raises(NotFound):
            await core.accounts.reset_password(token, "third password", None)


async def test_a_new_password_spends_every_open_token(
    platform: Platform, smtp_sink: SmtpSink
) -> None:
    await make_account(platform, "fay")
    tokens = []
    for _ in range(2):
        async with platform.core() as core:
            await core.accounts.request_password_reset("fay", by="username")
        tokens.append(_token(smtp_sink))
    async with platform.core() as core:
        await core.accounts.reset_password(tokens[1], "new password", None)
    async with platform.core() as core:
        with pytest.raises(NotFound):
            await core.accounts.password_reset_profile(tokens[0], None)


async def test_expired_token_is_not_found(platform: Platform, smtp_sink: SmtpSink) -> None:
    await make_account(platform, "gus")
    async with platform.core() as core:
        await core.accounts.request_password_reset("gus")
    async with platform.db.sessions() as session:
        await session.execute(update(PasswordReset).values(expires_at=utcnow()))
        await session.commit()
    async with platform.core() as core:
        with pytest.raises(NotFound):
            await core.accounts.password_reset_profile(_token(smtp_sink), None)


async def test_unknown_user_or_lookup_kind_sends_nothing(
    platform: Platform, smtp_sink: SmtpSink
) -> None:
    await make_account(platform, "hal")
    async with platform.core() as core:
        with pytest.raises(NotFound):
            await core.accounts.request_password_reset("nobody")
        with pytest.raises(NotFound):
            # A username is not an e-mail address.
            await core.accounts.request_password_reset("hal", by="email")
    assert smtp_sink.messages == []
    async with platform.db.sessions() as session:
        assert (await session.execute(select(PasswordReset))).first() is None


async def test_a_new_password_ends_login_sessions_but_keeps_api_tokens(
    platform: Platform, smtp_sink: SmtpSink
) -> None:
    kept = await make_account(platform, "gil", password="old password")  # an API token
    async with platform.core() as core:
        session = await core.accounts.start_session("gil", "old password")
        assert (await core.accounts.authenticate_token(session.token)).username == "gil"
        await core.accounts.request_password_reset("gil", by="username")
    async with platform.core() as core:
        await core.accounts.reset_password(_token(smtp_sink), "new password", None)
    async with platform.core() as core:
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_token(session.token)
        assert (await core.accounts.authenticate_token(kept.token)).username == "gil"
        # The same for a password changed through the profile.
        second = await core.accounts.start_session("gil", "new password")
        await core.accounts.update_profile(
            kept.principal, ProfileInput(password="third password")
        )
    async with platform.core() as core:
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_token(second.token)
