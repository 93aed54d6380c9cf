"""Sensors, measurements and kits: the seed's examples replayed, lists, filters and 404s."""

from __future__ import annotations

import httpx
import pytest

from thingport.core.catalog import builtin

BASE = "/smartcitizen/v0"


async def test_sensor_list_starts_with_the_seeds_dht22_family(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/sensors")
    assert response.status_code == 200
    sensors = response.json()
    assert len(sensors) == 25  # one default page
    assert response.headers["Total"] == str(len(builtin.SENSORS))
    assert response.headers["Per-Page"] == "25"
    assert 'rel="next"' in response.headers["Link"]
    # The seed's `GET /v0/sensors` example, field by field (plus the live service's fields).
    first_three = [
        {k: s[k] for k in ("id", "parent_id", "name", "description", "unit", "created_at")}
        for s in sensors[:3]
    ]
    assert first_three == [
        {
            "id": 3,
            "parent_id": None,
            "name": "DHT22",
            "description": "Digital Temperature and Relative Humidity Sensor",
            "unit": None,
            "created_at": "2015-02-02T18:14:15Z",
        },
        {
            "id": 4,
            "parent_id": 3,
            "name": "DHT22 - Temperature",
            "description": "Temperature",
            "unit": "ºC",
            "created_at": "2015-02-02T18:15:14Z",
        },
        {
            "id": 5,
            "parent_id": 3,
            "name": "DHT22 - Humidity",
            "description": "Humidity",
            "unit": "%",
            "created_at": "2015-02-02T18:15:34Z",
        },
    ]
    assert list(sensors[0]) == [
        "id",
        "uuid",
        "parent_id",
        "name",
        "description",
        "unit",
        "tags",
        "datasheet",
        "unit_definition",
        "created_at",
        "updated_at",
        "measurement",
    ]


async def test_sensor_10_as_in_the_seed(client: httpx.AsyncClient) -> None:
    for path in (f"{BASE}/sensors/10", f"{BASE}/sensors/10/", "/smartcitizen/sensors/10"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.json() == {
            "id": 10,
            "uuid": builtin.stable_uuid("sensor", 10),
            "parent_id": None,
            "name": "Battery",
            "description": "Custom Circuit",
            "unit": "%",
            "tags": [],
            "datasheet": None,
            "unit_definition": None,
            "created_at": "2015-02-02T18:18:00Z",
            "updated_at": "2015-02-02T18:18:00Z",
            "measurement": {
                "id": 7,
                "uuid": builtin.stable_uuid("measurement", 7),
                "name": "battery",
                "description": "Charge left in the kit's battery",
                "definition": "Percentage of full charge",
            },
        }


async def test_seed_pretty_example(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/sensors/10", params={"pretty": "true"})
    assert response.text.startswith('{\n  "id": 10,\n')


async def test_sensor_filters_sorting_and_pages(client: httpx.AsyncClient) -> None:
    # The seed's example `/sensors?q[id_lt]=100`, and the rest of ransack.
    below = (
        await client.get(f"{BASE}/sensors", params={"q[id_lt]": "6", "per_page": "100"})
    ).json()
    assert [s["id"] for s in below] == [3, 4, 5]
    reverse = await client.get(
        f"{BASE}/sensors", params={"q[parent_id_eq]": "3", "q[s]": "id desc"}
    )
    assert [s["id"] for s in reverse.json()] == [5, 4]
    assert reverse.headers["Total"] == "2"
    named = await client.get(f"{BASE}/sensors", params={"q[name_cont]": "pms5003_avg-"})
    assert [s["id"] for s in named.json()] == [87, 88, 89]
    page2 = await client.get(f"{BASE}/sensors", params={"per_page": "2", "page": "2"})
    assert [s["id"] for s in page2.json()] == [5, 6]
    assert 'rel="prev"' in page2.headers["Link"]
    bad = await client.get(f"{BASE}/sensors", params={"q[default_key_eq]": "temp"})
    assert bad.status_code == 400
    assert bad.json()["message"] == "Invalid search term default_key_eq"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("sensors/9999", "Sensor"),
        ("sensors/abc", "Sensor"),
        ("measurements/1", "Measurement"),
        ("measurements/x1", "Measurement"),
        ("kits/9999", "Kit"),
        ("kits/sck", "Kit"),
    ],
)
async def test_missing_records_are_record_not_found(
    client: httpx.AsyncClient, path: str, kind: str
) -> None:
    response = await client.get(f"{BASE}/{path}")
    assert response.status_code == 404
    ref = path.split("/")[1]
    assert response.json() == {
        "id": "record_not_found",
        "message": f"Couldn't find {kind} with 'id'={ref}",
        "url": "",
        "errors": "",
    }


async def test_measurements_list_first_is_battery(client: httpx.AsyncClient) -> None:
    # What the official client's tests expect: get_measurements()[0] is 7, "battery".
    response = await client.get(f"{BASE}/measurements/")
    assert response.status_code == 200
    measurements = response.json()
    assert measurements[0]["id"] == 7
    assert measurements[0]["name"] == "battery"
    assert response.headers["Total"] == str(len(builtin.MEASUREMENTS))
    assert all(isinstance(m["description"], str) and m["uuid"] for m in measurements)
    one = (await client.get(f"{BASE}/measurements/16")).json()
    assert list(one) == [
        "id",
        "uuid",
        "name",
        "description",
        "definition",
        "created_at",
        "updated_at",
    ]
    assert one["name"] == "PM 2.5"


async def test_kits(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/kits")
    assert response.status_code == 200
    kits = response.json()
    assert [(k["id"], k["slug"], k["name"]) for k in kits] == [
        (2, "sck:1,0", "SCK 1.0"),
        (3, "sck:1,1", "SCK 1.1"),
        (26, "sck:2,1", "SmartCitizen Kit 2.1"),
    ]
    kit = (await client.get(f"{BASE}/kits/3")).json()
    assert list(kit) == [
        "id",
        "uuid",
        "slug",
        "name",
        "description",
        "created_at",
        "updated_at",
        "sensors",
    ]
    # The sensors of the seed's world-map example of a kit 3 device (data keys 7, 12..18, 21).
    assert [s["id"] for s in kit["sensors"]] == [7, 12, 13, 14, 15, 16, 17, 18, 21]
    assert kit["sensors"][1]["measurement"]["name"] == "air temperature"
    filtered = await client.get(f"{BASE}/kits", params={"q[slug_eq]": "sck:2,1"})
    assert [k["id"] for k in filtered.json()] == [26]
