"""Every request example of seed 002 (SmartCitizen API Reference), replayed in the seed's order
against Thingport, with the shape the seed documents. Other test files go deeper into each area;
this one is the seed, read top to bottom."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account, make_account
from thingport.core.accounts.schemas import Principal, ProfileInput, UserCreate
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.schemas import Reading
from thingport.platform import Platform

V0 = "/smartcitizen/v0"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def john(platform: Platform) -> Account:
    """The seed's Basic example encodes john:smartpass."""
    return await make_account(platform, "john", password="smartpass")


async def test_root_endpoint_lists_categories(client: httpx.AsyncClient) -> None:
    # $ curl https://new-api.smartcitizen.me
    for path in ("/smartcitizen", "/smartcitizen/", V0):
        # /smartcitizen redirects to /smartcitizen/, as a mounted application does.
        body = (await client.get(path, follow_redirects=True)).json()
        assert body["users_url"].endswith("/v0/users")
        assert body["devices_url"].endswith("/v0/devices")
        assert body["sensors_url"].endswith("/v0/sensors")
        assert body["kits_url"].endswith("/v0/kits")


async def test_versioning_by_url_and_accept_header(client: httpx.AsyncClient) -> None:
    # BAD https://new-api.smartcitizen.me/users (still v0), GOOD .../v0/users, and the header.
    bad, good = await client.get("/smartcitizen/users"), await client.get(f"{V0}/users")
    assert bad.status_code == good.status_code == 200
    assert bad.json() == good.json()
    accepted = await client.get(
        f"{V0}/users",
        headers={"Accept": "application/vnd.smartcitizen; version=0,application/json"},
    )
    assert accepted.status_code == 200


async def test_three_ways_to_authenticate_on_me(client: httpx.AsyncClient, john: Account) -> None:
    # curl -G .../v0/me?access_token=OAUTH-TOKEN
    by_param = await client.get(f"{V0}/me", params={"access_token": john.token})
    # curl -H "Authorization: token OAUTH-TOKEN" .../v0/me
    by_header = await client.get(f"{V0}/me", headers={"Authorization": f"token {john.token}"})
    # -H "Authorization: Bearer 94abeab..." (Get Current User example)
    by_bearer = await client.get(f"{V0}/me", headers=bearer(john.token))
    # curl .../v0/me -H 'Authorization: Basic am9objpzbWFydHBhc3M='  (john:smartpass)
    by_basic = await client.get(f"{V0}/me", headers={"Authorization": "Basic am9objpzbWFydHBhc3M="})
    # curl .../v0/me -IH "Authorization: Token token=b32a8e54..."
    by_legacy = await client.get(f"{V0}/me", headers={"Authorization": f"Token token={john.token}"})
    for response in (by_param, by_header, by_bearer, by_basic, by_legacy):
        assert response.status_code == 200, response.text
        assert response.json()["username"] == "john"
    wrong = await client.get(f"{V0}/me", headers=bearer("tp_nope_nope"))
    assert wrong.status_code == 401
    assert wrong.json()["id"] == "unauthorized"


async def test_pagination_headers_as_in_the_users_example(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    # $ curl --include '.../v0/users?page=5'  -> Link first/last/next/prev, Total, Per-Page 25
    for i in range(130):
        async with platform.core() as core:
            await core.accounts.create_user(UserCreate(username=f"user{i:03}", email=f"u{i}@x.org"))
    response = await client.get(f"{V0}/users", params={"page": "5"})
    assert response.headers["Total"] == "130"
    assert response.headers["Per-Page"] == "25"
    links = response.links
    assert links["first"]["url"].endswith("page=1")
    assert links["last"]["url"].endswith("page=6")
    assert links["next"]["url"].endswith("page=6")
    assert links["prev"]["url"].endswith("page=4")
    assert len(response.json()) == 25


async def test_global_search_example(client: httpx.AsyncClient, platform: Platform) -> None:
    # curl ".../v0/search?q=anastasia"
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
    results = (await client.get(f"{V0}/search", params={"q": "anastasia"})).json()
    user = next(r for r in results if r["type"] == "User")
    assert {"id", "type", "username", "avatar", "city", "country_code"} <= set(user)
    results = (await client.get(f"{V0}/search", params={"q": "nat kit"})).json()
    device = next(r for r in results if r["type"] == "Device")
    assert {
        "id",
        "type",
        "name",
        "description",
        "owner_id",
        "owner_username",
        "city",
        "country_code",
    } <= set(device)
    assert (device["owner_username"], device["city"], device["country_code"]) == (
        "anastasia",
        "Barcelona",
        "ES",
    )


async def test_basic_searching_and_sorting_examples(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    adam = await make_account(platform, "adam")
    await make_account(platform, "sckfan")
    async with platform.core() as core:
        await core.accounts.update_profile(adam.principal, ProfileInput(first_name="adam"))
        for name in ("one", "two"):
            await core.devices.create(alice.principal, DeviceCreate(name=name, public=True))
    # /users?q[first_name_eq]=adam
    found = (await client.get(f"{V0}/users", params={"q[first_name_eq]": "adam"})).json()
    assert [u["username"] for u in found] == ["adam"]
    # /devices?q[owner_id_eq]=1
    owned = (
        await client.get(f"{V0}/devices", params={"q[owner_id_eq]": str(alice.principal.user_id)})
    ).json()
    assert sorted(d["name"] for d in owned) == ["one", "two"]
    # /sensors?q[id_lt]=100
    sensors = (
        await client.get(f"{V0}/sensors", params={"q[id_lt]": "100", "per_page": "500"})
    ).json()
    assert sensors
    assert all(s["id"] < 100 for s in sensors)
    # /users?q[username_cont]=sck
    assert [
        u["username"]
        for u in (await client.get(f"{V0}/users", params={"q[username_cont]": "sck"})).json()
    ] == ["sckfan"]
    # /users?q[sort]=username%20asc and /devices?q[sort]=id%20desc
    names = [u["username"] for u in (await client.get(f"{V0}/users?q[sort]=username%20asc")).json()]
    assert names == sorted(names)
    ids = [d["id"] for d in (await client.get(f"{V0}/devices?q[sort]=id%20desc")).json()]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 2


async def test_pretty_printing_example(client: httpx.AsyncClient) -> None:
    # curl ".../v0/sensors/10" and ".../v0/sensors/10?pretty=true"
    compact = await client.get(f"{V0}/sensors/10")
    pretty = await client.get(f"{V0}/sensors/10", params={"pretty": "true"})
    sensor = compact.json()
    assert (sensor["id"], sensor["name"], sensor["description"], sensor["unit"]) == (
        10,
        "Battery",
        "Custom Circuit",
        "%",
    )
    assert {"created_at", "updated_at"} <= set(sensor)
    assert b'\n  "id": 10' in pretty.content
    assert pretty.json() == sensor


async def test_jsonp_callback_on_a_get(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V0}/sensors/10", params={"callback": "show"})
    assert response.text.startswith("/**/show({")


async def _device_with_readings(platform: Platform, owner: Account) -> int:
    async with platform.core() as core:
        device = await core.devices.create(
            owner.principal,
            DeviceCreate(
                name="SmartHaarlem",
                type_id=3,
                public=True,
                exposure="indoor",
                latitude=52.3781227,
                longitude=4.6291324,
                city="Haarlem",
                country_code="NL",
            ),
        )
        await core.telemetry.ingest(
            owner.principal,
            device.key,
            [
                Reading("12", 14.38578857421875, 1_430_230_568_238),
                Reading("7", 50.0, 1_430_230_568_238),
            ],
        )
    return device.id


async def test_world_map_example(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    # $ curl -G .../v0/devices/world_map
    device_id = await _device_with_readings(platform, alice)
    (entry,) = (await client.get(f"{V0}/devices/world_map")).json()
    for key in (
        "added_at",
        "city",
        "country_code",
        "data",
        "description",
        "exposure",
        "id",
        "kit_id",
        "latitude",
        "longitude",
        "name",
        "owner_id",
        "owner_username",
        "status",
    ):
        assert key in entry, key
    assert entry["id"] == device_id
    assert (entry["city"], entry["country_code"], entry["kit_id"], entry["exposure"]) == (
        "Haarlem",
        "NL",
        3,
        "indoor",
    )
    assert entry["data"]["12"] == 14.38578857421875
    assert entry["data"]["12_raw"] == 14.38578857421875
    assert entry["data"]["recorded_at"] == "2015-04-28T14:16:08Z"
    # Online: it posted just now, although what it posted was recorded in 2015.
    assert entry["status"] == "online"


async def test_add_update_get_list_and_remove_a_device(
    client: httpx.AsyncClient, alice: Account
) -> None:
    # POST .../v0/devices
    created = await client.post(
        f"{V0}/devices",
        headers=bearer(alice.token),
        json={
            "name": "Beach SCK",
            "description": "A Smart Citizen on the Beach",
            "mac_address": "00:1C:B3:09:85:15",
            "kit_id": 3,
            "exposure": "outdoor",
            "latitude": 41.401108,
            "longitude": 2.215319,
        },
    )
    assert created.status_code == 201
    device_id = created.json()["id"]
    # PATCH .../v0/devices/:id
    updated = await client.patch(
        f"{V0}/devices/{device_id}",
        headers=bearer(alice.token),
        json={"name": "Beach SCK 2", "latitude": 41.4, "longitude": 2.2},
    )
    assert updated.status_code == 200
    # $ curl -G .../v0/devices/3
    device = (await client.get(f"{V0}/devices/{device_id}", headers=bearer(alice.token))).json()
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
        "mac_address",
    ):
        assert key in device, key
    assert device["name"] == "Beach SCK 2"
    assert device["status"] == "new"
    assert device["owner"]["username"] == "alice"
    assert device["kit"]["id"] == 3
    location = device["data"]["location"]
    for key in ("ip", "exposure", "latitude", "longitude", "geohash"):
        assert key in location, key
    assert location["latitude"] == 41.4
    # $ curl -G .../v0/devices  (with near=lat,lng)
    listed = (await client.get(f"{V0}/devices", params={"near": "41.401108,2.215319"})).json()
    assert [d["id"] for d in listed] == [device_id]
    # DELETE .../v0/devices/102
    assert (
        await client.delete(f"{V0}/devices/{device_id}", headers=bearer(alice.token))
    ).status_code == 200
    assert (await client.get(f"{V0}/devices/{device_id}")).status_code == 404


async def test_get_all_sensors_example(client: httpx.AsyncClient) -> None:
    # $ curl -G .../v0/sensors
    sensors = (await client.get(f"{V0}/sensors")).json()
    by_id = {s["id"]: s for s in sensors}
    assert (by_id[3]["parent_id"], by_id[3]["name"], by_id[3]["unit"]) == (None, "DHT22", None)
    assert (by_id[4]["parent_id"], by_id[4]["name"], by_id[4]["unit"]) == (
        3,
        "DHT22 - Temperature",
        "ºC",
    )
    assert (by_id[5]["parent_id"], by_id[5]["name"], by_id[5]["unit"]) == (
        3,
        "DHT22 - Humidity",
        "%",
    )
    for sensor in (by_id[3], by_id[4], by_id[5]):
        assert {
            "id",
            "parent_id",
            "name",
            "description",
            "unit",
            "created_at",
            "updated_at",
        } <= set(sensor)


async def test_latest_and_historical_readings(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    device_id = await _device_with_readings(platform, alice)
    # GET .../v0/devices/:id  -> latest readings in data.sensors as value and raw_value
    device = (await client.get(f"{V0}/devices/{device_id}")).json()
    sensor = next(s for s in device["data"]["sensors"] if s["id"] == 12)
    assert sensor["value"] == sensor["raw_value"] == 14.38578857421875
    # GET .../v0/devices/:id/readings
    history = await client.get(
        f"{V0}/devices/{device_id}/readings",
        params={"sensor_id": "12", "rollup": "1h", "from": "2015-04-28", "to": "2015-04-29"},
    )
    assert history.status_code == 200
    assert history.json()["readings"] == [["2015-04-28T14:00:00Z", 14.38578857421875]]


async def test_get_all_kits(client: httpx.AsyncClient) -> None:
    # GET .../v0/kits  (SCK 1.0 and SCK 1.1, and the current kit)
    kits = (await client.get(f"{V0}/kits")).json()
    names = [k["name"] for k in kits]
    assert "SCK 1.0" in names
    assert "SCK 1.1" in names
    assert all(k["sensors"] for k in kits)


async def test_users_add_me_update_and_get(client: httpx.AsyncClient, platform: Platform) -> None:
    # POST .../v0/users
    added = await client.post(
        f"{V0}/users",
        json={
            "first_name": "Alex",
            "last_name": "Doe",
            "email": "alex@example.com",
            "username": "alex",
            "password": "a-good-password",
            "city": "Prishtina",
            "country_code": "XK",
            "url": "https://alex.example.com",
        },
    )
    assert added.status_code == 201, added.text
    session = await client.post(
        f"{V0}/sessions", json={"username": "alex", "password": "a-good-password"}
    )
    token = session.json()["access_token"]
    # GET .../v0/me (Bearer)
    me = (await client.get(f"{V0}/me", headers=bearer(token))).json()
    for key in (
        "id",
        "first_name",
        "last_name",
        "email",
        "username",
        "location",
        "url",
        "avatar",
        "joined_at",
        "devices",
    ):
        assert key in me, key
    assert me["email"] == "alex@example.com"
    assert me["location"]["city"] == "Prishtina"
    # PATCH .../v0/me
    patched = await client.patch(f"{V0}/me", headers=bearer(token), json={"city": "Barcelona"})
    assert patched.status_code == 200
    assert patched.json()["location"]["city"] == "Barcelona"
    # GET .../v0/users ; curl -G .../v0/users/2 (by id and by username)
    listed = (await client.get(f"{V0}/users")).json()
    assert [u["username"] for u in listed] == ["alex"]
    async with platform.core() as core:
        await core.devices.create(
            Principal(user_id=me["id"], username="alex"),
            DeviceCreate(
                name="Citizen Science Kit #1",
                type_id=3,
                public=True,
                latitude=42.5813722,
                longitude=20.88935,
            ),
        )
    for ref in (str(me["id"]), "alex"):
        user = (await client.get(f"{V0}/users/{ref}")).json()
        for key in (
            "avatar",
            "devices",
            "first_name",
            "id",
            "joined_at",
            "last_name",
            "location",
            "updated_at",
            "url",
            "username",
        ):
            assert key in user, key
        assert set(user["location"]) >= {"city", "country", "country_code"}
        (device,) = user["devices"]
        for key in (
            "added_at",
            "data",
            "description",
            "id",
            "kit_id",
            "last_reading_at",
            "latitude",
            "longitude",
            "name",
            "status",
            "updated_at",
        ):
            assert key in device, key
        assert device["data"] is None
        assert device["owner_username"] == "alex"
        assert device["status"] == "new"
