"""The official SmartCitizen Python client (smartcitizen-connector 1.5.9), unchanged, against a
Thingport server started by the test: list and search devices, load one, read its sensors,
download readings with a rollup, post readings, page through long lists.

The client runs in its own process (connector_driver.py) because it reads API_URL on import.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

import httpx
import pytest

from tests.conftest import Account, make_account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.schemas import Reading
from thingport.platform import Platform

DRIVER = Path(__file__).with_name("connector_driver.py")
KIT_21 = 26  # SmartCitizen Kit 2.1 in the built-in catalogue
TEMPERATURE, HUMIDITY = 55, 56
# Readings start at a whole hour, four hours ago: the client asks only for readings between the
# device's creation (now) and its last reading, so the range it asks for must reach past now.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
MINUTES = 180


async def run_connector(base_url: str, token: str, *steps: list[str]) -> list[Any]:
    env = {
        **os.environ,
        "API_URL": f"{base_url}/smartcitizen/v0/",
        "SC_BEARER": token,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(DRIVER),
        json.dumps(list(steps)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode == 0, stderr.decode()[-3000:]
    results: list[Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return results


def temperature(minute: int) -> float:
    return 20.0 + (minute % 60) / 10


@pytest.fixture
async def world(platform: Platform, alice: Account) -> dict[str, Any]:
    """Alice's located SCK 2.1 with three hours of minute readings, 60 other public devices
    (every third named "air ..."), and one private device."""
    bob = await make_account(platform, "bob")
    async with platform.core() as core:
        kit = await core.devices.create(
            alice.principal,
            DeviceCreate(
                name="Alice's balcony",
                type_id=KIT_21,
                public=True,
                latitude=41.39669,
                longitude=2.19219,
                city="Barcelona",
                country_code="ES",
                exposure="outdoor",
            ),
        )
        readings = [
            Reading(
                str(TEMPERATURE),
                temperature(m),
                int((T0 + timedelta(minutes=m)).timestamp() * 1000),
            )
            for m in range(MINUTES)
        ]
        await core.telemetry.ingest(alice.principal, kit.key, readings)
        others = []
        for i in range(60):
            other = await core.devices.create(
                bob.principal,
                DeviceCreate(
                    name=f"{'air' if i % 3 == 0 else 'noise'} station {i}",
                    public=True,
                    latitude=52.0,
                    longitude=4.0 + i / 100,
                ),
            )
            others.append(other.id)
        private = await core.devices.create(bob.principal, DeviceCreate(name="air private"))
    return {"kit": kit.id, "others": others, "private": private.id, "bob": bob}


async def test_list_search_and_load_a_device(
    live_server: str, alice: Account, world: dict[str, Any]
) -> None:
    listed, found, refused, loaded, catalogue, mapped, everywhere = await run_connector(
        live_server,
        alice.token,
        ["list_devices"],
        ["search", "name", "cont", "air"],
        ["search", "device_token", "eq", "abc"],
        ["load_device", str(world["kit"])],
        ["catalogue"],
        ["world_map"],
        ["search_global", "barcelona"],
    )
    # 61 public devices and Alice's own; the client followed Link through three pages of 25.
    assert sorted(listed["ids"]) == sorted([world["kit"], *world["others"]])
    # Searching as Alice (the client sends her token): Bob's private device stays hidden.
    air = [d for i, d in enumerate(world["others"]) if i % 3 == 0]
    assert found["ids"] == sorted(air)
    assert found["total"] == len(air)
    # A field that may not be searched is refused, as the client's own tests expect.
    assert refused == {"error": 400}

    assert loaded["id"] == world["kit"]
    assert loaded["name"] == "Alice's balcony"
    assert loaded["owner"] == "alice"
    assert loaded["state"] == "has_published"
    assert loaded["geohash"].startswith("sp3e")
    assert loaded["timezone"] == "Europe/Madrid"
    assert loaded["last_reading_at"] == (T0 + timedelta(minutes=MINUTES - 1)).isoformat()
    sensors = {s["id"]: s for s in loaded["sensors"]}
    assert TEMPERATURE in sensors
    assert HUMIDITY in sensors
    assert sensors[TEMPERATURE]["value"] == temperature(MINUTES - 1)
    assert sensors[HUMIDITY]["value"] is None
    assert loaded["data_policy"]["is_private"] is False

    assert catalogue["sensors"][0] == [3, "DHT22"]
    assert catalogue["measurements"][0] == [7, "battery"]
    # Only Alice's kit is located and has readings.
    assert mapped == {"ids": [world["kit"]]}
    assert [(row["id"], row["type"]) for row in everywhere["rows"]] == [(world["kit"], "Device")]


async def test_download_readings_with_a_rollup(
    live_server: str, alice: Account, world: dict[str, Any]
) -> None:
    (hourly,) = await run_connector(
        live_server,
        alice.token,
        [
            "readings",
            str(world["kit"]),
            T0.strftime("%Y-%m-%d %H:%M:%S"),
            (T0 + timedelta(hours=6)).strftime("%Y-%m-%d %H:%M:%S"),
            "1H",
        ],
    )
    assert hourly["ok"] is True
    (column,) = [c for c in hourly["columns"] if "Temperature" in c]
    got = hourly["columns"][column]
    expected = [
        [(T0 + timedelta(hours=h)).isoformat(), mean(temperature(m) for m in range(60))]
        for h in range(MINUTES // 60)
    ]
    assert [t for t, _ in got] == [t for t, _ in expected]
    for (_, value), (_, want) in zip(got, expected, strict=True):
        assert value == pytest.approx(want)


async def test_post_readings_then_read_them_back(
    live_server: str, alice: Account, world: dict[str, Any]
) -> None:
    name = "Sensirion SHT31 - Humidity"
    (posted,) = await run_connector(
        live_server, alice.token, ["post", str(world["kit"]), name, "2024-02-01T00:00:00", "30"]
    )
    assert posted["ok"] is True
    assert posted["posted"] == {name: {"id": HUMIDITY, "readings": 30}}
    async with httpx.AsyncClient(base_url=live_server) as client:
        response = await client.get(
            f"/smartcitizen/v0/devices/{world['kit']}/readings",
            params={
                "sensor_id": HUMIDITY,
                "rollup": "1m",
                "from": "2024-02-01T00:00:00Z",
                "to": "2024-02-01T01:00:00Z",
            },
        )
    assert response.status_code == 200
    readings = response.json()["readings"]
    assert len(readings) == 30
    # Newest first, one per minute, value = the minute's index.
    assert readings[0] == ["2024-02-01T00:29:00Z", 29.0]
    assert readings[-1] == ["2024-02-01T00:00:00Z", 0.0]


async def test_someone_elses_token_cannot_post(live_server: str, world: dict[str, Any]) -> None:
    bob: Account = world["bob"]
    (posted,) = await run_connector(
        live_server,
        bob.token,
        ["post", str(world["kit"]), "Sensirion SHT31 - Humidity", "2024-02-01T00:00:00", "3"],
    )
    assert posted["ok"] is False
    assert posted["posted"] == {}
