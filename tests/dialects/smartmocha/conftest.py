"""Fixtures and helpers for the Smart Mocha tests: the seed's devices and data, request helpers,
the error envelope check, and expected rollups computed independently of the server."""

from __future__ import annotations

import itertools
import math
import random
import re
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Account, basic

Json = dict[str, Any]
Point = tuple[int, float]  # (epoch seconds, value)

API = "/smartmocha/v0"
BASE_STATION = "D0A0D862CC766B7A"
ATTACHED = ("A6B2E93A15267DBF", "3AD97529EE51A8A4", "CCE29492A7044737")
BATTERY = "Battery Voltage"
EXTERNAL = "External Voltage"
STATION_TYPE = "SmartMocha Base Station"
# The seed's update-device.json, verbatim.
UPDATE_BODY = {
    "name": "awesome basestation",
    "description": "Pacific Building 5th Floor",
    "location": "520 SW Yamhill St, Portland, OR 97204",
}

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
DEVICE_KEYS = {
    "attached_devices",
    "created_at",
    "deployed",
    "description",
    "firmware_version",
    "id",
    "last_seen",
    "location",
    "metrics",
    "name",
    "status",
    "type",
    "updated_at",
}
METRIC_KEYS = {"id", "last_seen", "last_val", "name"}
ERROR_KEYS = {"object", "status", "code", "message", "param", "url"}
STATUSES = {"new", "online", "offline", "deactivated", "blocked"}


def epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_iso(text: str) -> datetime:
    assert ISO_DATE.fullmatch(text), f"{text!r} is not YYYY-MM-DDTHH:MM:SS"
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


# -- the seed's data -------------------------------------------------------------------------

# The seed's device last reports at 2014-05-05T20:35:30 with these values; the points before it
# are a deterministic irregular series crossing hour, 10-minute and day boundaries.
LAST_TS = epoch(2014, 5, 5, 20, 35, 30)
LAST_VALUES = {BATTERY: 8.61819792521705, EXTERNAL: 12.285120019427794}
START_EDGE = epoch(2014, 5, 1)  # a point exactly at start=2014-05-01 (inclusive)
BEFORE_START = START_EDGE - 1  # and one just before it (excluded)


def _seed_points(metric: str) -> list[Point]:
    rng = random.Random(metric)
    first = epoch(2014, 5, 4, 21, 3, 7)
    points = [(BEFORE_START, rng.uniform(0, 50)), (START_EDGE, rng.uniform(0, 50))]
    ts = first
    for _ in range(36):
        points.append((ts, rng.uniform(3.0, 50.0)))
        ts += rng.randint(90, 900)
    points.append((LAST_TS, LAST_VALUES[metric]))
    return points


SEED_POINTS: dict[str, list[Point]] = {m: _seed_points(m) for m in (BATTERY, EXTERNAL)}


# -- expected rollups, computed here without the server --------------------------------------


def _rates(points: Sequence[Point]) -> list[tuple[int, float]]:
    """Per-second change of each consecutive pair, at the later point's time."""
    return [(t2, (v2 - v1) / (t2 - t1)) for (t1, v1), (t2, v2) in itertools.pairwise(points)]


AGGREGATE: dict[str, Callable[[list[float]], float]] = {
    "min": min,
    "max": max,
    "sum": math.fsum,
    "avg": statistics.fmean,
    "dev": statistics.pstdev,  # population standard deviation
    "rate": statistics.fmean,  # of the rates whose later point is in the bucket
}


def expected_rollup(
    points: Iterable[Point], *, interval: int, op: str, start: int, end: int
) -> dict[int, float]:
    """Bucket start (epoch s) -> aggregate, over the points with start <= t <= end."""
    inside = sorted((t, v) for t, v in points if start <= t <= end)
    samples = _rates(inside) if op == "rate" else inside
    buckets: dict[int, list[float]] = defaultdict(list)
    for t, v in samples:
        buckets[t - t % interval].append(v)
    return {bucket: AGGREGATE[op](values) for bucket, values in sorted(buckets.items())}


def as_wire(expected: dict[int, float]) -> dict[str, float]:
    return {str(bucket): value for bucket, value in expected.items()}


# -- clients and requests --------------------------------------------------------------------


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Like `client`, but a server error comes back as the 500 response a real client would see
    instead of an exception, so tests can assert "4xx, never 500" and inspect the envelope."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://thingport.test") as c:
        yield c


async def create_device(client: httpx.AsyncClient, auth: httpx.Auth, **body: Any) -> Json:
    response = await client.post(f"{API}/devices", json=body, auth=auth)
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


async def ingest(
    client: httpx.AsyncClient, auth: httpx.Auth, device: str, readings: list[Json]
) -> None:
    response = await client.post(f"{API}/device/{device}/data", json=readings, auth=auth)
    assert response.status_code == 201, response.text
    assert response.json() == {"object": "ingest", "device": device, "count": len(readings)}


def readings_of(points: dict[str, list[Point]]) -> list[Json]:
    """Interleave the metrics' points into one batch, in time order."""
    batch = [
        {"metric": metric, "value": value, "ts": ts}
        for metric, series in points.items()
        for ts, value in series
    ]
    return sorted(batch, key=lambda reading: (reading["ts"], reading["metric"]))


class Unchecked:
    pass


UNCHECKED = Unchecked()


def assert_error(
    response: httpx.Response,
    status: int,
    code: str,
    *,
    param: str | Unchecked | None = UNCHECKED,
    url: str | None = None,
) -> Json:
    """The one error envelope of the dialect (param left unchecked unless given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: Json = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["object"] == "error"
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    if not isinstance(param, Unchecked):
        assert body["param"] == param, body
    expected_url = url if url is not None else response.request.url.path.removeprefix("/smartmocha")
    assert body["url"] == expected_url
    return body


@dataclass
class Station:
    """The seed's base station with its three attached devices and its two metrics' data."""

    account: Account
    auth: httpx.Auth
    points: dict[str, list[Point]] = field(default_factory=lambda: dict(SEED_POINTS))


async def make_station(client: httpx.AsyncClient, account: Account) -> Station:
    auth = basic(account.token)
    await create_device(client, auth, id=BASE_STATION, type=STATION_TYPE, firmware_version="1.0.0")
    for key in ATTACHED:
        await create_device(client, auth, id=key, parent=BASE_STATION)
    await ingest(client, auth, BASE_STATION, readings_of(SEED_POINTS))
    return Station(account, auth)


@pytest.fixture
async def station(client: httpx.AsyncClient, alice: Account) -> Station:
    return await make_station(client, alice)


async def metric_ids(client: httpx.AsyncClient, auth: httpx.Auth, device: str) -> dict[str, str]:
    """Metric name -> metric id, as the device object lists them."""
    response = await client.get(f"{API}/device/{device}", auth=auth)
    assert response.status_code == 200, response.text
    return {m["name"]: m["id"] for m in response.json()["metrics"]}
