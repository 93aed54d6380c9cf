from __future__ import annotations

import asyncio
import sys

import httpx
from fastapi import FastAPI

from tests.conftest import Account, basic
from thingport.app import create_app
from thingport.core.devices.schemas import DeviceCreate
from thingport.demo.data import BASE_STATION, DEVICES, load_demo
from thingport.demo.simulator import Simulator, next_value
from thingport.platform import Platform
from thingport.settings import Settings


async def test_healthz_and_index(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    index = (await client.get("/")).json()
    assert {"name": "Smart Mocha", "url": "/smartmocha/v0", "docs": "/smartmocha/docs"} in index[
        "apis"
    ]
    openapi = await client.get("/smartmocha/openapi.json")
    assert openapi.status_code == 200
    assert "/v0/device/{device_id}/data" in openapi.json()["paths"]


async def test_demo_data_is_idempotent_and_queryable(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    first = await load_demo(platform)
    second = await load_demo(platform)
    assert first.token != second.token  # rotated at every load
    old = await client.get("/smartmocha/v0/devices", auth=basic(first.token))
    assert old.status_code == 401
    listing = await client.get("/smartmocha/v0/devices", auth=basic(second.token))
    assert listing.status_code == 200
    body = listing.json()
    assert body["count"] == len(DEVICES)
    base = next(d for d in body["data"] if d["id"] == BASE_STATION)
    assert base["type"] == "SmartMocha Base Station"
    assert sorted(base["attached_devices"]) == sorted(
        d.key for d in DEVICES if d.parent == BASE_STATION
    )
    assert {m["id"] for m in base["metrics"]} == {
        "3a853a54-e0fc-4aa9-b1a8-82cfa6dbb783",
        "115d1dae-ffc0-40cf-ade0-18e9da3b654a",
    }
    history = await client.get(
        f"/smartmocha/v0/device/{BASE_STATION}/data",
        params={"start": "1d-ago", "rollup": "1h-avg"},
        auth=basic(second.token),
    )
    assert history.status_code == 200
    # One result per metric of the base station (its "ts" is the metric's id).
    assert {r["ts"] for r in history.json()["results"]} == {m["id"] for m in base["metrics"]}
    for result in history.json()["results"]:
        assert len(result["data"]) >= 23  # a day of history, hourly


async def test_simulator_produces_readings_in_range(platform: Platform) -> None:
    info = await load_demo(platform)
    simulator = Simulator(platform, seed=1)
    stored = await simulator.tick()
    expected = sum(len(d.metrics) for d in DEVICES)
    assert stored == expected
    assert await simulator.tick() == 0  # nothing is due again within the interval
    async with platform.core() as core:
        principal = await core.accounts.authenticate_token(info.token)
        devices = await core.devices.list_visible(principal)
        series = await core.telemetry.series_of_devices([d.id for d in devices])
    spec = {m.series_key: m for d in DEVICES for m in d.metrics}
    # Every simulated metric has its series, so the range check below covers each of them.
    found = [s.key for device_series in series.values() for s in device_series]
    assert sorted(found) == sorted(m.series_key for d in DEVICES for m in d.metrics)
    for device_series in series.values():
        for s in device_series:
            assert s.last_value is not None
            assert spec[s.key].low <= s.last_value <= spec[s.key].high


def test_random_walk_stays_in_bounds() -> None:
    import random

    rng = random.Random(3)
    value: float | None = None
    for _ in range(1000):
        value = next_value(value, 10.0, 20.0, rng)
        assert 10.0 <= value <= 20.0


async def test_the_app_runs_the_embedded_broker_and_survives_a_taken_port(
    platform: Platform, settings: Settings, alice: Account
) -> None:
    """What `thingport serve --mqtt-port P` does: the broker takes telemetry; a taken port is a
    warning naming the flag, not a failed start."""
    import socket

    from tests.conftest import _free_port

    port = _free_port()
    app = create_app(settings.model_copy(update={"mqtt_port": port}), platform=platform)
    seen: list[str] = []
    async with app.router.lifespan_context(app):
        async with platform.core() as core:
            await core.devices.create(alice.principal, DeviceCreate(key="EMB-1"))
        publish = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import paho.mqtt.publish as p, sys; p.single('thingport/v1/devices/EMB-1/telemetry',"
            " '{\"t\": 5}', qos=1, hostname='127.0.0.1', port=int(sys.argv[1]),"
            " auth={'username': 'alice', 'password': sys.argv[2]})",
            str(port),
            alice.token,
        )
        assert await publish.wait() == 0
        async with platform.core() as core:
            ref = await core.devices.resolve(alice.principal, "EMB-1")
            series = (await core.telemetry.series_of_devices([ref.id]))[ref.id]
        assert [(s.key, s.last_value) for s in series] == [("t", 5.0)]

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            second = create_app(
                settings.model_copy(update={"mqtt_port": busy}),
                platform=Platform(settings),
                announce=lambda info: seen.append(info.mqtt),
            )
            async with second.router.lifespan_context(second):
                pass
    assert len(seen) == 1
    assert "--mqtt-port" in seen[0]


async def test_demo_kit_is_on_the_smartcitizen_map(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    await load_demo(platform)
    listing = (await client.get("/smartcitizen/v0/devices")).json()
    (kit,) = [d for d in listing if d["name"] == "Plaça de Catalunya"]
    assert kit["hardware"]["slug"] == "sck:2,1"
    assert kit["location"]["city"] == "Barcelona"
    values = {s["id"]: s["value"] for s in kit["data"]["sensors"]}
    assert values[55] is not None
    assert 12.0 <= values[55] <= 26.0
    world = (await client.get("/smartcitizen/v0/devices/world_map")).json()
    assert kit["id"] in [entry["id"] for entry in world]
