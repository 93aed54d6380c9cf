"""SmartCitizen devices: the seed's requests replayed, ownership, filters, sorting, pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Account, make_account
from thingport.core.accounts.schemas import SYSTEM
from thingport.core.telemetry.schemas import Reading
from thingport.platform import Platform

BASE = "/smartcitizen/v0"


def bearer(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


async def create(client: httpx.AsyncClient, owner: Account, **params: Any) -> dict[str, Any]:
    body = {"name": "Beach SCK", "mac_address": "00:1C:B3:09:85:15", **params}
    response = await client.post(f"{BASE}/devices", json=body, headers=bearer(owner))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_add_a_device_with_the_seed_parameters(
    client: httpx.AsyncClient, alice: Account
) -> None:
    device = await create(
        client,
        alice,
        description="A Smart Citizen on the Beach",
        kit_id=3,
        exposure="outdoor",
        latitude=41.401108,
        longitude=2.215319,
    )
    assert device["name"] == "Beach SCK"
    assert device["description"] == "A Smart Citizen on the Beach"
    assert device["owner"]["username"] == "alice"
    assert device["owner_id"] == alice.principal.user_id
    assert device["status"] == "new"
    assert device["state"] == "never_published"
    assert device["kit_id"] == 3
    assert device["kit"]["id"] == 3
    assert device["mac_address"] == "00:1c:b3:09:85:15"
    assert len(device["device_token"]) == 6
    location = device["data"]["location"]
    assert location["latitude"] == pytest.approx(41.401108)
    assert location["longitude"] == pytest.approx(2.215319)
    assert location["exposure"] == "outdoor"
    assert location["geohash"].startswith("sp3e")
    assert device["added_at"].endswith("Z")
    assert "T" in device["added_at"]


async def test_get_a_device_shows_the_seed_fields(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create(client, alice, latitude=52.3781227, longitude=4.6291324)
    response = await client.get(f"{BASE}/devices/{created['id']}")
    assert response.status_code == 200
    device = response.json()
    for key in (
        "id",
        "owner",
        "name",
        "description",
        "status",
        "added_at",
        "last_reading_at",
        "updated_at",
        "data",
        "kit",
        "uuid",
        "state",
        "system_tags",
        "user_tags",
        "hardware",
        "data_policy",
        "notify",
        "location",
    ):
        assert key in device, key
    for key in ("recorded_at", "added_at", "calibrated_at", "firmware", "location", "sensors"):
        assert key in device["data"], key
    # Private to the owner: an anonymous reader does not see the MAC address or the token.
    assert "mac_address" not in device
    assert device["device_token"] == "[FILTERED]"
    assert device["data_policy"]["enable_forwarding"] == "[FILTERED]"
    as_owner = (await client.get(f"{BASE}/devices/{created['id']}", headers=bearer(alice))).json()
    assert as_owner["mac_address"] == "00:1c:b3:09:85:15"


async def test_latest_readings_are_embedded_in_data_sensors(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    created = await create(client, alice, kit_id=3)
    async with platform.core() as core:
        await core.telemetry.ingest(
            alice.principal,
            await _key(core, created["id"]),
            [Reading("4", 21.5, 1_700_000_000_000), Reading("4", 22.5, 1_700_000_060_000)],
        )
    device = (await client.get(f"{BASE}/devices/{created['id']}")).json()
    by_id = {s["id"]: s for s in device["data"]["sensors"]}
    assert by_id[4]["value"] == 22.5
    assert by_id[4]["raw_value"] == 22.5
    assert by_id[4]["last_reading_at"] == "2023-11-14T22:14:20Z"
    assert device["data"]["recorded_at"] == "2023-11-14T22:14:20Z"
    assert device["state"] == "has_published"
    assert device["status"] == "online"


async def _key(core: Any, device_id: int) -> str:
    device = await core.devices.get_by_id(SYSTEM, device_id)
    key: str = device.key
    return key


async def test_update_and_delete_are_for_the_owner_only(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    device = await create(client, alice)
    url = f"{BASE}/devices/{device['id']}"
    refused = await client.patch(url, json={"name": "mine now"}, headers=bearer(bob))
    assert refused.status_code == 403
    assert refused.json()["id"] == "forbidden"
    assert (await client.delete(url, headers=bearer(bob))).status_code == 403
    assert (await client.patch(url, json={"name": "x"})).status_code == 401
    assert (await client.get(url)).json()["name"] == "Beach SCK"

    updated = await client.patch(
        url, json={"name": "Beach SCK 2", "exposure": "indoor"}, headers=bearer(alice)
    )
    assert updated.status_code == 200
    assert updated.json()["name"] == "Beach SCK 2"
    assert updated.json()["data"]["location"]["exposure"] == "indoor"

    deleted = await client.delete(url, headers=bearer(alice))
    assert deleted.status_code == 200
    assert deleted.json() == {"message": "OK"}
    gone = await client.get(url)
    assert gone.status_code == 404
    assert gone.json()["id"] == "record_not_found"


async def test_a_private_device_is_missing_for_others(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    device = await create(client, alice, is_private=True)
    url = f"{BASE}/devices/{device['id']}"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=bearer(bob))).status_code == 404
    assert (await client.get(url, headers=bearer(alice))).status_code == 200
    listed = (await client.get(f"{BASE}/devices", headers=bearer(bob))).json()
    assert device["id"] not in [d["id"] for d in listed]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "mac_address": "not-a-mac"}, "mac_address"),
        ({"name": "x", "exposure": "sideways"}, "exposure"),
        ({"name": "x", "latitude": 123}, "latitude"),
        ({"name": "x", "kit_id": 999}, "kit_id"),
    ],
)
async def test_bad_device_input_is_422_and_stores_nothing(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{BASE}/devices", json=body, headers=bearer(alice))
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["id"] == "unprocessable_entity"
    assert field in error["errors"]
    assert (await client.get(f"{BASE}/devices", headers=bearer(alice))).json() == []


async def test_missing_name_is_parameter_missing(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(f"{BASE}/devices", json={}, headers=bearer(alice))
    assert response.status_code == 400
    assert response.json()["id"] == "parameter_missing"
    assert (await client.post(f"{BASE}/devices", json={"name": "x"})).status_code == 401


async def _many(platform: Platform, owners: list[Account], count: int) -> None:
    from thingport.core.devices.schemas import DeviceCreate

    async with platform.core() as core:
        for i in range(count):
            owner = owners[i % len(owners)]
            await core.devices.create(
                owner.principal,
                DeviceCreate(
                    name=f"{'Air' if i % 3 == 0 else 'Noise'} kit {i:03}",
                    public=True,
                    city="Barcelona" if i % 2 else "Amsterdam",
                    latitude=41.0 + i / 1000,
                    longitude=2.0,
                ),
            )


async def test_filter_sort_and_follow_link_to_the_end_over_210_devices(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    await _many(platform, [alice, bob], 210)
    seen: list[int] = []
    url: str | None = f"{BASE}/devices?q[sort]=id%20desc&per_page=40"
    pages = 0
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["Total"] == "210"
        assert response.headers["Per-Page"] == "40"
        seen += [d["id"] for d in response.json()]
        pages += 1
        links = httpx.Response(200, headers={"Link": response.headers.get("Link", "")}).links
        url = links.get("next", {}).get("url")
        if url is not None:
            assert url.startswith("http://thingport.test/smartcitizen/v0/devices?")
    assert pages == 6
    assert len(seen) == 210
    assert seen == sorted(seen, reverse=True)

    default = await client.get(f"{BASE}/devices")
    assert len(default.json()) == 25
    assert default.headers["Per-Page"] == "25"
    last = httpx.Response(200, headers={"Link": default.headers["Link"]}).links["last"]["url"]
    assert last.endswith("page=9")

    barcelona_air = await client.get(
        f"{BASE}/devices",
        params={"q[city_eq]": "Barcelona", "q[name_start]": "air", "per_page": "500"},
    )
    expected = [i for i in range(210) if i % 2 and i % 3 == 0]
    assert barcelona_air.headers["Total"] == str(len(expected))
    assert sorted(d["name"] for d in barcelona_air.json()) == [f"Air kit {i:03}" for i in expected]
    owned = await client.get(
        f"{BASE}/devices", params={"q[owner_username_eq]": "bob", "q[s]": "name asc"}
    )
    assert owned.headers["Total"] == "105"
    assert [d["owner_username"] for d in owned.json()] == ["bob"] * 25
    names = [d["name"] for d in owned.json()]
    assert names == sorted(names)


@pytest.mark.parametrize(
    "params",
    [
        {"q[device_token_eq]": "abc"},
        {"q[mac_address_eq]": "00:00:00:00:00:00"},
        {"q[name_sounds_like]": "x"},
        {"q[sort]": "password asc"},
        {"q[id_eq]": "one"},
    ],
)
async def test_a_bad_filter_is_a_400_in_the_envelope(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(f"{BASE}/devices", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["id"] == "bad_request"
    assert set(body) >= {"id", "message", "url", "errors"}


async def test_near_orders_by_distance(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    for name, lat, lng in (("far", 51.5, -0.1), ("near", 41.40, 2.21), ("middle", 48.8, 2.3)):
        await create(client, alice, name=name, latitude=lat, longitude=lng)
    response = await client.get(f"{BASE}/devices", params={"near": "41.401108,2.215319"})
    assert [d["name"] for d in response.json()] == ["near", "middle", "far"]
    bad = await client.get(f"{BASE}/devices", params={"near": "north"})
    assert bad.status_code == 400
    assert bad.json()["message"] == "Malformed near parameter"


async def test_world_map_lists_public_located_devices_with_readings(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    shown = await create(client, alice, name="shown", latitude=52.37, longitude=4.62, kit_id=3)
    await create(client, alice, name="no readings", latitude=52.0, longitude=4.0)
    hidden = await create(
        client, alice, name="private", latitude=52.0, longitude=4.0, is_private=True
    )
    async with platform.core() as core:
        for device in (shown, hidden):
            key = await _key(core, device["id"])
            await core.telemetry.ingest(
                alice.principal, key, [Reading("4", 14.5, 1_700_000_000_000)]
            )
    response = await client.get(f"{BASE}/devices/world_map")
    assert response.status_code == 200
    entries = response.json()
    assert [e["id"] for e in entries] == [shown["id"]]
    entry = entries[0]
    assert entry["data"]["4"] == 14.5
    assert entry["data"]["4_raw"] == 14.5
    assert entry["owner_username"] == "alice"
    assert entry["kit_id"] == 3
    assert entry["status"] == "online"  # it posted just now
    assert entry["latitude"] == pytest.approx(52.37)


async def test_another_users_devices_are_listed_on_their_user_page(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    await create(client, alice, name="public one")
    await create(client, alice, name="private one", is_private=True)
    carol = await make_account(platform, "carol")
    page = await client.get(f"{BASE}/users/alice", headers=bearer(carol))
    assert page.status_code == 200
    assert [d["name"] for d in page.json()["devices"]] == ["public one"]
    own = await client.get(f"{BASE}/me", headers=bearer(alice))
    assert sorted(d["name"] for d in own.json()["devices"]) == ["private one", "public one"]


async def test_the_user_list_shows_each_users_readable_devices(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    await create(client, alice, name="alice public")
    await create(client, alice, name="alice private", is_private=True)
    await create(client, bob, name="bob public")
    anonymous = {u["username"]: u for u in (await client.get(f"{BASE}/users")).json()}
    assert [d["name"] for d in anonymous["alice"]["devices"]] == ["alice public"]
    assert [d["name"] for d in anonymous["bob"]["devices"]] == ["bob public"]
    as_alice = {
        u["username"]: u for u in (await client.get(f"{BASE}/users", headers=bearer(alice))).json()
    }
    assert sorted(d["name"] for d in as_alice["alice"]["devices"]) == [
        "alice private",
        "alice public",
    ]
    assert all(d["data"] is None for d in as_alice["alice"]["devices"])


async def test_a_device_whose_type_is_no_kit_is_listed_without_a_kit(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    from thingport.core.devices.schemas import DeviceCreate

    async with platform.core() as core:
        # A Smart Mocha style type name: a device type that carries no sensors.
        await core.devices.create(
            alice.principal, DeviceCreate(name="thermostat", type="Thermostat", public=True)
        )
    kit_device = await create(client, alice, name="kit", kit_id=3)
    listed = await client.get(f"{BASE}/devices", params={"q[s]": "id asc"})
    assert listed.status_code == 200, listed.text
    thermostat, kit = listed.json()
    assert thermostat["kit"] is None
    assert thermostat["kit_id"] is None
    assert thermostat["hardware"]["name"] == "Unknown"
    assert kit["id"] == kit_device["id"]
    assert kit["kit"]["id"] == 3
