"""`GET /v0/search?q=`: the seed's example, privacy and pages."""

from __future__ import annotations

import httpx

from tests.conftest import Account, make_account
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform

BASE = "/smartcitizen/v0"


async def test_global_search_finds_users_and_devices(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    anastasia = await make_account(platform, "anastasia")
    async with platform.core() as core:
        await core.devices.create(
            anastasia.principal,
            DeviceCreate(
                name="nat kit",
                description="nat kit at home",
                city="Barcelona",
                country_code="ES",
                public=True,
            ),
        )
        await core.devices.create(
            anastasia.principal, DeviceCreate(name="anastasia's secret kit", public=False)
        )
        await core.devices.create(alice.principal, DeviceCreate(name="other", public=True))
    response = await client.get(f"{BASE}/search", params={"q": "anastasia"})
    assert response.status_code == 200
    results = response.json()
    assert [(r["type"], r.get("username")) for r in results] == [("User", "anastasia")]
    user = results[0]
    assert user["id"] == anastasia.principal.user_id
    for key in ("avatar", "city", "country_code"):
        assert key in user

    found = (await client.get(f"{BASE}/search", params={"q": "nat kit"})).json()
    assert len(found) == 1
    device = found[0]
    assert device["type"] == "Device"
    assert device["name"] == "nat kit"
    assert device["description"] == "nat kit at home"
    assert device["owner_id"] == anastasia.principal.user_id
    assert device["owner_username"] == "anastasia"
    assert device["city"] == "Barcelona"
    assert device["country_code"] == "ES"

    # The owner finds their private device too; nobody else does.
    own = await client.get(
        f"{BASE}/search",
        params={"q": "secret"},
        headers={"Authorization": f"Bearer {anastasia.token}"},
    )
    assert [r["name"] for r in own.json()] == ["anastasia's secret kit"]
    assert (await client.get(f"{BASE}/search", params={"q": "secret"})).json() == []


async def test_search_pages_and_requires_q(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        for i in range(30):
            await core.devices.create(alice.principal, DeviceCreate(name=f"lamp {i}", public=True))
    first = await client.get(f"{BASE}/search", params={"q": "lamp"})
    assert first.headers["Total"] == "30"
    assert len(first.json()) == 25
    second = await client.get(f"{BASE}/search", params={"q": "lamp", "page": "2"})
    assert len(second.json()) == 5
    assert {r["id"] for r in first.json()}.isdisjoint({r["id"] for r in second.json()})
    missing = await client.get(f"{BASE}/search")
    assert missing.status_code == 400
    assert missing.json()["id"] == "parameter_missing"
