"""`GET /v0/device/:id/stream`, read over a real socket from a real uvicorn server.

Points are posted through the HTTP ingest endpoint of the same server once the stream's headers
have arrived; the stream must carry exactly those points, in order, in the seed's line format.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Account, basic
from tests.dialects.smartmocha.conftest import (
    API,
    BASE_STATION,
    BATTERY,
    EXTERNAL,
    Json,
    assert_error,
    create_device,
    ingest,
)

TIMEOUT = 10  # seconds; a stream that hangs fails the test instead of blocking the run
OTHER = "3AD97529EE51A8A4"


@pytest.fixture
async def http(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=TIMEOUT) as client:
        yield client


def expected_line(device: str, metric: str, ts_ms: int, value: float) -> Json:
    return {"device": device, "data": [[ts_ms, value]], "metric": metric, "type": "data"}


async def read_events(lines: AsyncIterator[str], count: int) -> list[str]:
    """The next `count` `data:` lines, skipping blank separators and `:` comment (ping) lines."""
    events: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            events.append(line)
            if len(events) == count:
                break
        else:
            assert line == "" or line.startswith(":"), f"unexpected line {line!r}"
    return events


async def test_stream_carries_exactly_the_posted_points(
    http: httpx.AsyncClient, alice: Account
) -> None:
    auth = basic(alice.token)
    await create_device(http, auth, id=BASE_STATION)
    await create_device(http, auth, id=OTHER)
    t0 = 1399588748  # the seed's first stream timestamp, in seconds
    batches = [
        [
            {"metric": BATTERY, "value": 78.40191068442397, "ts": t0},
            {"metric": EXTERNAL, "value": 73.46231559449963, "ts": t0},
        ],
        [{"metric": BATTERY, "value": 63.86665544710024, "ts": (t0 + 1) * 1000}],  # ts in ms
        [
            {"metric": EXTERNAL, "value": 35.487668612821295, "ts": t0 + 1},
            {"metric": BATTERY, "value": -1.5, "ts": "2014-05-08T22:39:10Z"},
            {"metric": EXTERNAL, "value": 0.0, "ts": t0 + 3},
        ],
    ]
    expected = [
        expected_line(BASE_STATION, BATTERY, t0 * 1000, 78.40191068442397),
        expected_line(BASE_STATION, EXTERNAL, t0 * 1000, 73.46231559449963),
        expected_line(BASE_STATION, BATTERY, (t0 + 1) * 1000, 63.86665544710024),
        expected_line(BASE_STATION, EXTERNAL, (t0 + 1) * 1000, 35.487668612821295),
        expected_line(BASE_STATION, BATTERY, (t0 + 2) * 1000, -1.5),
        expected_line(BASE_STATION, EXTERNAL, (t0 + 3) * 1000, 0.0),
    ]
    sentinel = expected_line(BASE_STATION, "sentinel", (t0 + 9) * 1000, 9.0)

    async with asyncio.timeout(TIMEOUT):
        async with http.stream("GET", f"{API}/device/{BASE_STATION}/stream", auth=auth) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            for number, batch in enumerate(batches):
                await ingest(http, auth, BASE_STATION, batch)
                # Another device's points, between ours, must not show up on this stream.
                await ingest(http, auth, OTHER, [{"metric": BATTERY, "value": 1000.0 + number}])
            # Events of one subscriber arrive in publish order: once the sentinel is read,
            # everything posted before it has been delivered or filtered.
            await ingest(
                http, auth, BASE_STATION, [{"metric": "sentinel", "value": 9.0, "ts": t0 + 9}]
            )
            received = await read_events(lines, len(expected) + 1)

    assert all(line.startswith("data: ") for line in received)
    parsed = [json.loads(line.removeprefix("data: ")) for line in received]
    assert parsed == [*expected, sentinel]
    # the seed's key order
    assert all(list(event) == ["device", "data", "metric", "type"] for event in parsed)
    assert all(isinstance(event["data"][0][0], int) for event in parsed)


async def test_stream_of_two_clients_and_reconnect(http: httpx.AsyncClient, alice: Account) -> None:
    """Each open stream gets every point; a stream opened later gets only later points."""
    auth = basic(alice.token)
    await create_device(http, auth, id=BASE_STATION)
    url = f"{API}/device/{BASE_STATION}/stream"
    async with asyncio.timeout(TIMEOUT):
        async with http.stream("GET", url, auth=auth) as first:
            await ingest(http, auth, BASE_STATION, [{"metric": "a", "value": 1.0, "ts": 1}])
            async with http.stream("GET", url, auth=auth) as second:
                await ingest(http, auth, BASE_STATION, [{"metric": "a", "value": 2.0, "ts": 2}])
                first_events = await read_events(first.aiter_lines(), 2)
                second_events = await read_events(second.aiter_lines(), 1)
    values = [json.loads(e.removeprefix("data: "))["data"][0] for e in first_events]
    assert values == [[1000, 1.0], [2000, 2.0]]
    assert json.loads(second_events[0].removeprefix("data: "))["data"] == [[2000, 2.0]]


async def test_stream_of_another_users_device_is_404(
    http: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await create_device(http, basic(alice.token), id=BASE_STATION)
    async with asyncio.timeout(TIMEOUT):
        other = await http.get(f"{API}/device/{BASE_STATION}/stream", auth=basic(bob.token))
        missing = await http.get(f"{API}/device/FFFFFFFFFFFFFFFF/stream", auth=basic(bob.token))
        anonymous = await http.get(f"{API}/device/{BASE_STATION}/stream")
    body = assert_error(other, 404, "not_found", param="device_id")
    twin = assert_error(missing, 404, "not_found", param="device_id")
    assert body["message"].replace(BASE_STATION, "X") == twin["message"].replace(
        "FFFFFFFFFFFFFFFF", "X"
    )
    assert_error(anonymous, 401, "unauthorized")
    assert "www-authenticate" in anonymous.headers
