"""Authentication (`curl -u TOKEN:`, Bearer) and tenant isolation of the Smart Mocha API."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import Account, basic, make_account
from tests.dialects.smartmocha.conftest import (
    API,
    BASE_STATION,
    BATTERY,
    Json,
    Station,
    assert_error,
    create_device,
)
from thingport.core.accounts.models import ApiKey
from thingport.platform import Platform

MISSING = "FFFFFFFFFFFFFFFF"
QUERY = {"start": "2014-05-01", "end": "2014-05-06", "rollup": "1h-avg"}


def requests_on(device: str) -> list[tuple[str, str, dict[str, Any]]]:
    """One request of every endpoint that names a device: (method, url, httpx keyword args)."""
    return [
        ("GET", f"{API}/device/{device}", {}),
        ("PUT", f"{API}/device/{device}", {"json": {"name": "taken over"}}),
        ("GET", f"{API}/device/{device}/data", {"params": QUERY}),
        ("POST", f"{API}/device/{device}/data", {"json": {"metric": BATTERY, "value": 666.0}}),
        ("GET", f"{API}/device/{device}/stream", {}),
    ]


def all_requests() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("GET", f"{API}/devices", {}),
        ("POST", f"{API}/devices", {"json": {"id": "NEWDEVICE0000001"}}),
        *requests_on(BASE_STATION),
    ]


async def snapshot(client: httpx.AsyncClient, auth: httpx.Auth) -> Json:
    devices = await client.get(f"{API}/devices", auth=auth)
    data = await client.get(f"{API}/device/{BASE_STATION}/data", params=QUERY, auth=auth)
    assert devices.status_code == data.status_code == 200
    return {"devices": devices.json(), "data": data.json()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def raw_basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_no_credentials_is_401_everywhere(
    client: httpx.AsyncClient, station: Station
) -> None:
    before = await snapshot(client, station.auth)
    for method, url, kwargs in all_requests():
        response = await client.request(method, url, **kwargs)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].lower().startswith("basic"), url
    assert await snapshot(client, station.auth) == before


async def test_wrong_tokens_are_401(client: httpx.AsyncClient, station: Station) -> None:
    token = station.account.token
    tag, prefix, secret = token.split("_")
    wrong_secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    rejected = {
        "random": basic("not-a-token"),
        "prefix with wrong secret": basic(f"{tag}_{prefix}_{wrong_secret}"),
        "prefix with empty secret": basic(f"{tag}_{prefix}_"),
        "unknown prefix, right secret": basic(f"{tag}_{'0' * len(prefix)}_{secret}"),
        "token as password": httpx.BasicAuth("", token),
        "token with a password": httpx.BasicAuth(token, "x"),
    }
    headers = {
        "bearer wrong secret": bearer(f"{tag}_{prefix}_{wrong_secret}"),
        "bearer empty": {"Authorization": "Bearer "},
        "basic not base64": {"Authorization": "Basic %%%"},
        "unknown scheme": {"Authorization": f"Digest {token}"},
        "basic with a user who has no password": raw_basic("alice", ""),
    }
    before = await snapshot(client, station.auth)
    for name, auth in rejected.items():
        for method, url, kwargs in all_requests():
            response = await client.request(method, url, auth=auth, **kwargs)
            assert response.status_code == 401, (name, url, response.text)
            assert_error(response, 401, "unauthorized")
            assert "www-authenticate" in response.headers
    for name, header in headers.items():
        response = await client.get(f"{API}/devices", headers=header)
        assert response.status_code == 401, (name, response.text)
        assert_error(response, 401, "unauthorized")
    assert await snapshot(client, station.auth) == before


async def test_bearer_and_basic_tokens_work(client: httpx.AsyncClient, station: Station) -> None:
    token = station.account.token
    via_basic = await client.get(f"{API}/devices", auth=station.auth)
    via_bearer = await client.get(f"{API}/devices", headers=bearer(token))
    assert via_basic.status_code == via_bearer.status_code == 200
    assert via_bearer.json() == via_basic.json()
    assert via_bearer.json()["count"] == 4
    # `curl -u TOKEN:` sends exactly this header
    via_curl = await client.get(f"{API}/devices", headers=raw_basic(token, ""))
    assert via_curl.json() == via_basic.json()
    put = await client.put(
        f"{API}/device/{BASE_STATION}", json={"name": "bearer"}, headers=bearer(token)
    )
    assert put.status_code == 200
    assert put.json()["name"] == "bearer"


async def test_basic_with_username_and_password(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    """The contract's third way in: a real login (conftest's accounts have a password)."""
    carol = await make_account(platform, "carol", password="secret-pass")
    await create_device(client, basic(carol.token), id="CAROL00000000001")
    ok = await client.get(f"{API}/devices", auth=httpx.BasicAuth("carol", "secret-pass"))
    assert ok.status_code == 200, ok.text
    assert [d["id"] for d in ok.json()["data"]] == ["CAROL00000000001"]
    wrong = await client.get(f"{API}/devices", auth=httpx.BasicAuth("carol", "wrong-pass"))
    assert_error(wrong, 401, "unauthorized")


async def test_another_users_device_is_indistinguishable_from_a_missing_one(
    client: httpx.AsyncClient, station: Station, bob: Account
) -> None:
    before = await snapshot(client, station.auth)
    bob_auth = basic(bob.token)
    for (method, url, kwargs), (_, missing_url, _) in zip(
        requests_on(BASE_STATION), requests_on(MISSING), strict=True
    ):
        other = await client.request(method, url, auth=bob_auth, **kwargs)
        missing = await client.request(method, missing_url, auth=bob_auth, **kwargs)
        body = assert_error(other, 404, "not_found", param="device_id")
        twin = assert_error(missing, 404, "not_found", param="device_id")
        # Same body once the id the caller sent is taken out: nothing tells the two apart.
        assert {k: str(v).replace(BASE_STATION, "ID") for k, v in body.items()} == {
            k: str(v).replace(MISSING, "ID") for k, v in twin.items()
        }, method + " " + url
        assert dict(other.headers) == dict(missing.headers) | {
            "content-length": other.headers["content-length"]
        }
    # nothing of Alice's changed, and Bob sees none of her devices
    assert await snapshot(client, station.auth) == before
    listing = await client.get(f"{API}/devices", auth=bob_auth)
    assert listing.json() == {"count": 0, "data": [], "object": "list", "url": "/v0/devices"}
    # an attached device of Alice's cannot become Bob's child either
    adopt = await client.post(
        f"{API}/devices", json={"id": "BOB0000000000001", "parent": BASE_STATION}, auth=bob_auth
    )
    assert_error(adopt, 400, "invalid_input", param="parent")
    assert (await client.get(f"{API}/devices", auth=bob_auth)).json()["count"] == 0


async def test_stored_api_key_holds_no_token(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    tokens = {alice.token, bob.token}
    secrets = {token.split("_")[2] for token in tokens}
    async with platform.db.sessions() as session:
        keys = (await session.execute(select(ApiKey))).scalars().all()
    assert len(keys) == 2
    for key in keys:
        stored = {column.name: getattr(key, column.key) for column in ApiKey.__mapper__.columns}
        for name, value in stored.items():
            text = str(value)
            for secret in tokens | secrets:
                assert secret not in text, f"api_keys.{name} holds the token or its secret"
        assert key.secret_hash not in secrets
    # and those stored rows still authenticate both tokens
    for token in tokens:
        assert (await client.get(f"{API}/devices", auth=basic(token))).status_code == 200
