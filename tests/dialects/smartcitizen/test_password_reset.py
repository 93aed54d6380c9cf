"""The seed's four-step password reset, through a real SMTP server."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import SmtpSink, make_account
from thingport.core.accounts.models import PasswordReset
from thingport.platform import Platform
from thingport.settings import Settings
from thingport.storage.base import utcnow

V0 = "/smartcitizen/v0"
OLD = "old password"
NEW = "brand new password"


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    return smtp_sink.configure(settings)


@pytest.fixture
async def kim(platform: Platform) -> None:
    await make_account(platform, "kim", password=OLD)


def _token_in(sink: SmtpSink) -> str:
    match = re.search(r"token is:\s+(\S+)", sink.messages[-1].get_content())
    assert match is not None
    return match[1]


async def _request_reset(client: httpx.AsyncClient, sink: SmtpSink, **params: str) -> str:
    response = await client.post(f"{V0}/password_resets", params=params)
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "Password Reset Instructions Delivered"}
    return _token_in(sink)


async def _can_log_in(client: httpx.AsyncClient, password: str) -> bool:
    response = await client.get(f"{V0}/me", auth=httpx.BasicAuth("kim", password))
    return response.status_code == 200


@pytest.mark.usefixtures("kim")
async def test_the_four_steps(client: httpx.AsyncClient, smtp_sink: SmtpSink) -> None:
    # 1. POST /v0/password_resets?username=USERNAME
    response = await client.post(f"{V0}/password_resets", params={"username": "kim"})
    assert response.status_code == 200
    assert response.json() == {"message": "Password Reset Instructions Delivered"}
    # 2. An e-mail reaches the user, carrying the token and how to use it.
    (mail,) = smtp_sink.messages
    assert mail["To"] == "kim@example.com"
    assert mail["From"] == "thingport@localhost"
    token = _token_in(smtp_sink)
    assert f"http://thingport.test/smartcitizen/v0/password_resets/{token}" in mail.get_content()
    # 3. GET /v0/password_resets/TOKEN returns the user.
    shown = await client.get(f"{V0}/password_resets/{token}")
    assert shown.status_code == 200
    assert shown.json()["username"] == "kim"
    assert shown.json()["email"] == "[FILTERED]"
    # 4. PATCH /v0/password_resets/TOKEN?password=NEW_PASSWORD
    changed = await client.patch(f"{V0}/password_resets/{token}", params={"password": NEW})
    assert changed.status_code == 200
    assert changed.json()["username"] == "kim"
    assert await _can_log_in(client, NEW)
    assert not await _can_log_in(client, OLD)
    # Single use.
    assert (await client.get(f"{V0}/password_resets/{token}")).status_code == 404
    again = await client.put(f"{V0}/password_resets/{token}", params={"password": "third one!"})
    assert again.status_code == 404
    assert again.json()["id"] == "record_not_found"
    assert await _can_log_in(client, NEW)


@pytest.mark.usefixtures("kim")
@pytest.mark.parametrize(
    "params",
    [
        {"email": "KIM@example.com"},
        {"email_or_username": "kim"},
        {"email_or_username": "kim@example.com"},
    ],
)
async def test_reset_by_email_or_either(
    client: httpx.AsyncClient, smtp_sink: SmtpSink, params: dict[str, str]
) -> None:
    token = await _request_reset(client, smtp_sink, **params)
    assert (await client.get(f"{V0}/password_resets/{token}")).json()["username"] == "kim"


@pytest.mark.usefixtures("kim")
async def test_new_password_as_form_or_json(client: httpx.AsyncClient, smtp_sink: SmtpSink) -> None:
    token = await _request_reset(client, smtp_sink, username="kim")
    by_form = await client.put(f"{V0}/password_resets/{token}", data={"password": NEW})
    assert by_form.status_code == 200
    token = await _request_reset(client, smtp_sink, username="kim")
    by_json = await client.patch(f"{V0}/password_resets/{token}", json={"password": OLD})
    assert by_json.status_code == 200
    assert await _can_log_in(client, OLD)


@pytest.mark.usefixtures("kim")
async def test_bad_new_passwords_keep_the_token(
    client: httpx.AsyncClient, smtp_sink: SmtpSink
) -> None:
    token = await _request_reset(client, smtp_sink, username="kim")
    missing = await client.patch(f"{V0}/password_resets/{token}", json={"password": None})
    assert missing.status_code == 400
    assert missing.json()["id"] == "parameter_missing"
    short = await client.patch(f"{V0}/password_resets/{token}", params={"password": "short"})
    assert short.status_code == 422
    assert short.json()["errors"] == {"password": ["is too short (minimum is 8 characters)"]}
    assert await _can_log_in(client, OLD)
    assert (await client.get(f"{V0}/password_resets/{token}")).status_code == 200


@pytest.mark.usefixtures("kim")
async def test_expired_and_unknown_tokens_are_404(
    client: httpx.AsyncClient, platform: Platform, smtp_sink: SmtpSink
) -> None:
    token = await _request_reset(client, smtp_sink, username="kim")
    async with platform.db.sessions() as session:
        await session.execute(update(PasswordReset).values(expires_at=utcnow()))
        await session.commit()
    for path in (f"{V0}/password_resets/{token}", f"{V0}/password_resets/not-a-token"):
        assert (await client.get(path)).status_code == 404
        assert (await client.patch(path, params={"password": NEW})).status_code == 404
    assert await _can_log_in(client, OLD)


@pytest.mark.usefixtures("kim")
async def test_refusals_send_no_mail_and_store_no_token(
    client: httpx.AsyncClient, platform: Platform, smtp_sink: SmtpSink
) -> None:
    unknown = await client.post(f"{V0}/password_resets", json={"username": "nobody"})
    assert unknown.status_code == 404
    assert unknown.json()["id"] == "record_not_found"
    nothing = await client.post(f"{V0}/password_resets", json={})
    assert nothing.status_code == 422
    assert nothing.json()["errors"] == (
        "Please include parameter email, username or email_or_username"
    )
    signed_in = await client.post(
        f"{V0}/password_resets", params={"username": "kim"}, auth=httpx.BasicAuth("kim", OLD)
    )
    assert signed_in.status_code == 403
    assert smtp_sink.messages == []
    async with platform.db.sessions() as session:
        assert (await session.execute(select(PasswordReset))).first() is None
