"""POST /v0/sessions, and the five ways the token (or the password) authenticates on /me."""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import make_account
from thingport.core.accounts.models import ApiKey
from thingport.platform import Platform

V0 = "/smartcitizen/v0"
PASSWORD = "smartpass"


@pytest.fixture
async def john(platform: Platform) -> None:
    await make_account(platform, "john", password=PASSWORD)


async def _login(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    return await client.post(f"{V0}/sessions", json=params)


@pytest.mark.usefixtures("john")
async def test_session_token_works_in_all_five_ways(client: httpx.AsyncClient) -> None:
    response = await _login(client, username="john", password=PASSWORD)
    assert response.status_code == 200
    assert list(response.json()) == ["access_token"]
    token = response.json()["access_token"]
    basic = base64.b64encode(f"john:{PASSWORD}".encode()).decode()
    # (Authorization header, query) for each way the seed and the live service accept.
    ways: dict[str, tuple[dict[str, str], dict[str, str]]] = {
        "bearer": ({"Authorization": f"Bearer {token}"}, {}),
        "access_token": ({}, {"access_token": token}),
        "token header": ({"Authorization": f"token {token}"}, {}),
        "legacy token": ({"Authorization": f"Token token={token}"}, {}),
        "basic": ({"Authorization": f"Basic {basic}"}, {}),
    }
    for way, (headers, params) in ways.items():
        me = await client.get(f"{V0}/me", headers=headers, params=params)
        assert me.status_code == 200, way
        assert me.json()["username"] == "john", way
        assert me.json()["email"] == "john@example.com", way


@pytest.mark.usefixtures("john")
async def test_login_by_email_in_any_case_and_by_form(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    by_email = await _login(client, username="JOHN@Example.com", password=PASSWORD)
    assert by_email.status_code == 200
    by_form = await client.post(f"{V0}/sessions", data={"username": "John", "password": PASSWORD})
    assert by_form.status_code == 200
    # Each login is a new token (only hashes are kept, so one cannot be handed out twice).
    assert by_email.json()["access_token"] != by_form.json()["access_token"]
    async with platform.db.sessions() as session:
        rows = (await session.execute(select(ApiKey.name, ApiKey.secret_hash))).all()
    assert sorted(name for name, _ in rows) == ["session", "session", "test"]
    for token in (by_email.json()["access_token"], by_form.json()["access_token"]):
        assert all(token.split("_")[-1] not in secret_hash for _, secret_hash in rows)


@pytest.mark.usefixtures("john")
async def test_wrong_password_is_422_as_on_the_live_service(client: httpx.AsyncClient) -> None:
    response = await _login(client, username="john", password="not smartpass")
    assert response.status_code == 422
    assert response.json() == {
        "id": "unprocessable_entity",
        "message": "Unprocessable Entity",
        "errors": {"message": {"password": "is incorrect"}, "password": "is incorrect"},
        "url": "",
    }


async def test_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    response = await _login(client, username="nobody", password=PASSWORD)
    assert response.status_code == 404
    assert response.json()["id"] == "record_not_found"


@pytest.mark.parametrize(
    "params", [{}, {"username": "john"}, {"password": PASSWORD}, {"username": "", "password": "x"}]
)
async def test_missing_username_or_password_is_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.post(f"{V0}/sessions", json=params)
    assert response.status_code == 400
    assert response.json() == {
        "id": "parameter_missing",
        "message": "param is missing or the value is empty: username and password",
        "url": "",
        "errors": "",
    }


@pytest.mark.usefixtures("john")
async def test_wrong_credentials_on_me_are_401(client: httpx.AsyncClient) -> None:
    for options in (
        {"headers": {"Authorization": "Bearer tp_abc_def"}},
        {"params": {"access_token": "nonsense"}},
        {"headers": {"Authorization": "Token token=tp_abc_def"}},
        {"auth": httpx.BasicAuth("john", "wrong password")},
    ):
        response = await client.get(f"{V0}/me", **options)
        assert response.status_code == 401, options
        assert response.json()["id"] == "unauthorized"
        assert "Basic" in response.headers["WWW-Authenticate"]
