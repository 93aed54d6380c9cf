"""Every request example of the Smart Mocha API reference (seed 000), replayed against the app.

The seed's devices are registered under its ids (a base station with three attached devices) and
its two metrics get data in early May 2014, ending with the values the seed prints. Expected
rollups are computed in conftest.py from the points sent, never with the server's code.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.dialects.smartmocha.conftest import (
    API,
    ATTACHED,
    BASE_STATION,
    BATTERY,
    DEVICE_KEYS,
    EXTERNAL,
    LAST_TS,
    LAST_VALUES,
    METRIC_KEYS,
    SEED_POINTS,
    STATION_TYPE,
    STATUSES,
    UPDATE_BODY,
    Json,
    Station,
    as_wire,
    create_device,
    epoch,
    expected_rollup,
    ingest,
    iso,
    metric_ids,
    parse_iso,
)
from thingport.core.devices.models import Device
from thingport.platform import Platform

DATA = f"{API}/device/{BASE_STATION}/data"
HOUR, DAY = 3600, 86400
MAY_1 = epoch(2014, 5, 1)


def assert_device_shape(device: Json) -> None:
    """Key set and value types of a device object, exactly as the seed prints one."""
    assert set(device) == DEVICE_KEYS
    assert isinstance(device["attached_devices"], list)
    assert all(isinstance(key, str) for key in device["attached_devices"])
    assert isinstance(device["deployed"], bool)
    assert isinstance(device["id"], str)
    assert device["status"] in STATUSES
    for name in ("description", "firmware_version", "location", "name", "type"):
        assert device[name] is None or isinstance(device[name], str), name
    parse_iso(device["created_at"])
    parse_iso(device["updated_at"])
    if device["last_seen"] is not None:
        parse_iso(device["last_seen"])
    for metric in device["metrics"]:
        assert set(metric) == METRIC_KEYS
        assert str(uuid.UUID(metric["id"])) == metric["id"]
        assert isinstance(metric["name"], str)
        assert isinstance(metric["last_val"], str)  # "8.61819792521705": a string
        float(metric["last_val"])
        parse_iso(metric["last_seen"])


def assert_seed_metrics(device: Json) -> None:
    """The base station's metrics carry the last point of each series, in UTC."""
    assert [m["name"] for m in device["metrics"]] == [BATTERY, EXTERNAL]
    for metric in device["metrics"]:
        assert metric["last_seen"] == iso(LAST_TS) == "2014-05-05T20:35:30"
        assert metric["last_val"] == repr(LAST_VALUES[metric["name"]])
    assert device["metrics"][0]["last_val"] == "8.61819792521705"
    assert device["metrics"][1]["last_val"] == "12.285120019427794"
    assert device["metrics"][0]["id"] != device["metrics"][1]["id"]


async def query(client: httpx.AsyncClient, station: Station, **params: str) -> Json:
    response = await client.get(DATA, params=params, auth=station.auth)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def data_by_metric(body: Json) -> dict[str, Any]:
    return {result["metric"]: result["data"] for result in body["results"]}


# -- Get All Devices -------------------------------------------------------------------------


async def test_get_all_devices(client: httpx.AsyncClient, station: Station) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = await client.get(f"{API}/devices", auth=station.auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"count", "data", "object", "url"}
    assert body["object"] == "list"
    assert body["url"] == "/v0/devices"
    assert body["count"] == len(body["data"]) == 4
    for device in body["data"]:
        assert_device_shape(device)
    assert [d["id"] for d in body["data"]] == [BASE_STATION, *ATTACHED]

    base = body["data"][0]
    assert base["attached_devices"] == list(ATTACHED)
    assert base["type"] == STATION_TYPE
    assert base["firmware_version"] == "1.0.0"
    assert base["deployed"] is False
    assert base["description"] is None
    assert base["location"] is None
    assert base["name"] is None
    assert base["status"] == "online"  # it just sent data
    # last_seen of the device is when it was last heard from (now), not its data's time.
    assert abs(parse_iso(base["last_seen"]) - before).total_seconds() <= 5
    assert parse_iso(base["created_at"]) <= parse_iso(base["updated_at"])
    assert_seed_metrics(base)

    for attached in body["data"][1:]:
        assert attached["attached_devices"] == []
        assert attached["metrics"] == []
        assert attached["last_seen"] is None
        assert attached["status"] == "new"  # never seen


async def test_get_device(client: httpx.AsyncClient, station: Station) -> None:
    response = await client.get(f"{API}/device/{BASE_STATION}", auth=station.auth)
    assert response.status_code == 200, response.text
    device = response.json()
    assert_device_shape(device)
    assert_seed_metrics(device)
    assert device["id"] == BASE_STATION
    assert device["attached_devices"] == list(ATTACHED)
    listed = (await client.get(f"{API}/devices", auth=station.auth)).json()["data"][0]
    assert device == listed
    attached = (await client.get(f"{API}/device/{ATTACHED[1]}", auth=station.auth)).json()
    assert_device_shape(attached)
    assert attached["id"] == ATTACHED[1]


# -- Update Device ---------------------------------------------------------------------------


async def test_update_device_with_the_seed_body(
    client: httpx.AsyncClient, station: Station, platform: Platform
) -> None:
    # The seed's answer shows an offline device last seen on 2014-05-06T15:30:24.
    async with platform.db.sessions() as session:
        await session.execute(
            update(Device)
            .where(Device.key == BASE_STATION)
            .values(last_seen_at=datetime(2014, 5, 6, 15, 30, 24, tzinfo=UTC))
        )
        await session.commit()
    before = (await client.get(f"{API}/device/{BASE_STATION}", auth=station.auth)).json()
    assert before["status"] == "offline"

    response = await client.put(f"{API}/device/{BASE_STATION}", json=UPDATE_BODY, auth=station.auth)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert_device_shape(updated)
    assert updated["name"] == "awesome basestation"
    assert updated["description"] == "Pacific Building 5th Floor"
    assert updated["location"] == "520 SW Yamhill St, Portland, OR 97204"
    assert updated["status"] == "offline"
    assert updated["last_seen"] == "2014-05-06T15:30:24"
    unchanged = DEVICE_KEYS - {"name", "description", "location", "updated_at"}
    assert {k: updated[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert parse_iso(updated["updated_at"]) >= parse_iso(before["updated_at"])
    assert_seed_metrics(updated)
    # The change is stored, not only echoed.
    again = await client.get(f"{API}/device/{BASE_STATION}", auth=station.auth)
    assert again.json() == updated


async def test_update_sends_back_what_get_returned(
    client: httpx.AsyncClient, station: Station
) -> None:
    """Read-only fields of a device object PUT back are ignored; only settable fields change."""
    device = (await client.get(f"{API}/device/{BASE_STATION}", auth=station.auth)).json()
    sent = device | {
        "name": "renamed",
        "status": "blocked",
        "type": "Something Else",
        "attached_devices": [],
        "metrics": [],
    }
    response = await client.put(f"{API}/device/{BASE_STATION}", json=sent, auth=station.auth)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "renamed"
    assert updated["status"] == "online"
    assert updated["type"] == STATION_TYPE
    assert updated["attached_devices"] == list(ATTACHED)
    assert updated["metrics"] == device["metrics"]
    # A field left out is left alone.
    partial = await client.put(
        f"{API}/device/{BASE_STATION}", json={"description": "d"}, auth=station.auth
    )
    assert partial.json()["name"] == "renamed"
    assert partial.json()["description"] == "d"


# -- Get sensor data -------------------------------------------------------------------------


async def test_get_sensor_data_seed_example(client: httpx.AsyncClient, station: Station) -> None:
    await client.put(f"{API}/device/{BASE_STATION}", json=UPDATE_BODY, auth=station.auth)
    ids = await metric_ids(client, station.auth, BASE_STATION)
    before = time.time()
    response = await client.get(f"{DATA}?start=2014-05-01&rollup=1h-avg", auth=station.auth)
    after = time.time()
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"end", "object", "results", "rollup", "start"}
    assert body["object"] == "query"
    assert body["rollup"] == "1h-avg"
    assert body["start"] == "2014-05-01T00:00:00"
    end = parse_iso(body["end"]).timestamp()
    assert int(before) <= end <= after
    assert [r["metric"] for r in body["results"]] == [BATTERY, EXTERNAL]
    for result in body["results"]:
        assert set(result) == {"data", "device", "metric", "name", "ts"}
        assert result["device"] == BASE_STATION
        assert result["name"] == "awesome basestation"
        assert result["ts"] == ids[result["metric"]]  # ts is the metric's id
        expected = expected_rollup(
            SEED_POINTS[result["metric"]], interval=HOUR, op="avg", start=MAY_1, end=LAST_TS
        )
        assert result["data"] == pytest.approx(as_wire(expected), rel=1e-12)
        # keys: bucket starts in epoch seconds, as strings; the point at exactly start counts
        assert str(MAY_1) in result["data"]
        assert all(int(key) % HOUR == 0 for key in result["data"])
        assert all(isinstance(value, float) for value in result["data"].values())
        assert result["data"][str(LAST_TS - LAST_TS % HOUR)] == pytest.approx(
            LAST_VALUES[result["metric"]]
        )


async def test_arrays_returns_pairs(client: httpx.AsyncClient, station: Station) -> None:
    # `&arrays`, bare, as the seed writes it.
    response = await client.get(f"{DATA}?start=2014-05-01&rollup=1h-avg&arrays", auth=station.auth)
    assert response.status_code == 200, response.text
    as_objects = await query(client, station, start="2014-05-01", rollup="1h-avg")
    assert [r["metric"] for r in response.json()["results"]] == [BATTERY, EXTERNAL]
    for result, objects in zip(response.json()["results"], as_objects["results"], strict=True):
        pairs = result["data"]
        assert isinstance(pairs, list)
        assert all(isinstance(pair, list) and len(pair) == 2 for pair in pairs)
        assert all(isinstance(t, int) and isinstance(v, float) for t, v in pairs)
        assert [t for t, _ in pairs] == sorted(t for t, _ in pairs)
        assert {str(t): v for t, v in pairs} == objects["data"]
        expected = expected_rollup(
            SEED_POINTS[result["metric"]], interval=HOUR, op="avg", start=MAY_1, end=LAST_TS
        )
        assert pairs == [[t, pytest.approx(v, rel=1e-12)] for t, v in expected.items()]
    # arrays=false keeps objects
    explicit_false = await query(
        client, station, start="2014-05-01", rollup="1h-avg", arrays="false"
    )
    assert explicit_false == as_objects | {"end": explicit_false["end"]}


async def test_metric_id_selects_metrics(client: httpx.AsyncClient, station: Station) -> None:
    ids = await metric_ids(client, station.auth, BASE_STATION)
    only_external = await query(
        client, station, start="2014-05-01", rollup="1d-max", metric_id=ids[EXTERNAL]
    )
    assert [r["metric"] for r in only_external["results"]] == [EXTERNAL]
    assert only_external["results"][0]["ts"] == ids[EXTERNAL]
    expected = expected_rollup(
        SEED_POINTS[EXTERNAL], interval=DAY, op="max", start=MAY_1, end=LAST_TS
    )
    assert only_external["results"][0]["data"] == as_wire(expected)

    both = await query(
        client,
        station,
        start="2014-05-01",
        rollup="1d-max",
        metric_id=f"{ids[EXTERNAL]};{ids[BATTERY]}",
    )
    assert {r["metric"]: r["ts"] for r in both["results"]} == ids
    everything = await query(client, station, start="2014-05-01", rollup="1d-max")
    assert data_by_metric(both) == data_by_metric(everything)


async def test_end_defaults_to_now(client: httpx.AsyncClient, station: Station) -> None:
    auth = station.auth
    await ingest(client, auth, BASE_STATION, [{"metric": BATTERY, "value": 1.25}])  # ts: now
    before = int(time.time())
    body = await query(client, station, start="1h-ago", rollup="1s-sum")
    after = time.time()
    end = parse_iso(body["end"]).timestamp()
    assert before <= end <= after
    start = parse_iso(body["start"]).timestamp()
    assert before - HOUR - 1 <= start <= after - HOUR
    data = data_by_metric(body)
    assert list(data[BATTERY].values()) == [1.25]  # just sent, so inside a default end
    assert data[EXTERNAL] == {}
    # an explicit end before it leaves it out
    earlier = await query(client, station, start="1h-ago", end="1m-ago", rollup="1s-sum")
    assert data_by_metric(earlier)[BATTERY] == {}


ROLLUPS = [
    # the seed's rollup examples (1h-min is also the first of the operations below)
    ("1d-max", DAY, "max"),
    ("10m-avg", 600, "avg"),
    # each of the seed's operations
    ("1h-min", HOUR, "min"),
    ("1h-max", HOUR, "max"),
    ("1h-sum", HOUR, "sum"),
    ("1h-avg", HOUR, "avg"),
    ("1h-dev", HOUR, "dev"),
    ("1h-rate", HOUR, "rate"),
    ("10m-dev", 600, "dev"),
    ("30m-rate", 1800, "rate"),
]


async def test_rollups(client: httpx.AsyncClient, station: Station) -> None:
    for rollup, interval, op in ROLLUPS:
        body = await query(client, station, start="2014-05-01", end="2014-05-06", rollup=rollup)
        assert body["rollup"] == rollup
        assert body["end"] == "2014-05-06T00:00:00"
        assert sorted(data_by_metric(body)) == [BATTERY, EXTERNAL], rollup  # the loop sees both
        for metric, data in data_by_metric(body).items():
            expected = expected_rollup(
                SEED_POINTS[metric], interval=interval, op=op, start=MAY_1, end=epoch(2014, 5, 6)
            )
            assert len(expected) > 2, "the data must span several buckets"
            assert data == pytest.approx(as_wire(expected), rel=1e-9, abs=1e-12), (rollup, metric)


async def test_rate_and_dev_by_hand(client: httpx.AsyncClient, station: Station) -> None:
    """Small numbers worked out on paper: the definitions, not only agreement with conftest."""
    auth = station.auth
    t0 = epoch(2014, 5, 2, 10)
    await ingest(
        client,
        auth,
        ATTACHED[0],
        [
            {"metric": "m", "value": 10.0, "ts": t0 + 3000},  # bucket 10:00
            {"metric": "m", "value": 20.0, "ts": t0 + 3500},  # bucket 10:00, +10/500 s = 0.02
            {"metric": "m", "value": 14.0, "ts": t0 + 3800},  # bucket 11:00, -6/300 s = -0.02
            {"metric": "m", "value": 18.0, "ts": t0 + 4000},  # bucket 11:00, +4/200 s = 0.02
        ],
    )
    url = f"{API}/device/{ATTACHED[0]}/data"
    params = {"start": "2014-05-02", "end": "2014-05-03"}
    rate = await client.get(url, params=params | {"rollup": "1h-rate"}, auth=auth)
    dev = await client.get(url, params=params | {"rollup": "1h-dev"}, auth=auth)
    # 10:00 holds one pair (its first point has no predecessor in range); 11:00 holds two.
    assert rate.json()["results"][0]["data"] == pytest.approx(
        {str(t0): 0.02, str(t0 + HOUR): 0.0}, abs=1e-12
    )
    # population standard deviation: {10, 20} -> 5; {14, 18} -> 2
    assert dev.json()["results"][0]["data"] == pytest.approx(
        {str(t0): 5.0, str(t0 + HOUR): 2.0}, rel=1e-12
    )


async def test_relative_times(client: httpx.AsyncClient, station: Station) -> None:
    now = int(time.time())
    ago = {
        "30m": 30 * 60,
        "3h": 3 * HOUR,
        "40d": 40 * DAY,
        "70d": 70 * DAY,
        "2y": 2 * 365 * DAY,
        "4y": 4 * 365 * DAY,
    }
    device = ATTACHED[2]
    await ingest(
        client,
        station.auth,
        device,
        [{"metric": "age", "value": float(i), "ts": now - s} for i, s in enumerate(ago.values())],
    )
    cases = {
        "1h-ago": (HOUR, ["30m"]),
        "2n-ago": (60 * DAY, ["30m", "3h", "40d"]),  # n: month (30 days)
        "3y-ago": (3 * 365 * DAY, ["30m", "3h", "40d", "70d", "2y"]),  # y: 365 days
    }
    for start, (seconds, inside) in cases.items():
        response = await client.get(
            f"{API}/device/{device}/data",
            params={"start": start, "rollup": "1s-sum"},
            auth=station.auth,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert abs(parse_iso(body["start"]).timestamp() - (time.time() - seconds)) <= 5, start
        keys = set(body["results"][0]["data"])
        assert keys == {str(now - ago[name]) for name in inside}, start


async def test_unix_timestamp_start(client: httpx.AsyncClient, station: Station) -> None:
    may_5 = epoch(2014, 5, 5)
    seconds = await query(client, station, start=str(may_5), rollup="1h-max")
    milliseconds = await query(client, station, start=str(may_5 * 1000), rollup="1h-max")
    iso_form = await query(client, station, start="2014-05-05T00:00:00Z", rollup="1h-max")
    assert seconds["start"] == milliseconds["start"] == "2014-05-05T00:00:00"
    # Both metrics, so that the comparisons below compare data, not two empty answers.
    assert sorted(data_by_metric(seconds)) == [BATTERY, EXTERNAL]
    for metric, data in data_by_metric(seconds).items():
        expected = expected_rollup(
            SEED_POINTS[metric], interval=HOUR, op="max", start=may_5, end=LAST_TS
        )
        assert data == as_wire(expected)
        assert min(int(key) for key in data) >= may_5
    assert data_by_metric(milliseconds) == data_by_metric(seconds)
    assert data_by_metric(iso_form) == data_by_metric(seconds)
    # "we gladly accept many other formats": the same instant written other ways, including an
    # offset whose '+' arrives as a space because the client did not encode it
    for written in (
        "2014-05-05T02:00:00+02:00",
        "2014-05-05T02:00:00%2B02:00",
        "2014/05/05-00:00:00",
        "May 5 2014",
        "2014-05-05",
    ):
        response = await client.get(f"{DATA}?rollup=1h-max&start={written}", auth=station.auth)
        assert response.status_code == 200, (written, response.text)
        assert response.json()["start"] == "2014-05-05T00:00:00", written
        assert data_by_metric(response.json()) == data_by_metric(seconds), written


async def test_start_and_end_are_inclusive(client: httpx.AsyncClient, station: Station) -> None:
    # BEFORE_START and START_EDGE are one second apart; end on a point keeps that point.
    edge = SEED_POINTS[BATTERY][1][0]
    body = await query(client, station, start=str(edge), end=str(edge), rollup="1s-avg")
    assert data_by_metric(body)[BATTERY] == {str(edge): SEED_POINTS[BATTERY][1][1]}
    before = await query(client, station, start=str(edge - 1), end=str(edge - 1), rollup="1s-avg")
    assert data_by_metric(before)[BATTERY] == {str(edge - 1): SEED_POINTS[BATTERY][0][1]}


async def test_register_more_devices_and_list(client: httpx.AsyncClient, station: Station) -> None:
    """The added POST /v0/devices: generated ids, and a device shows under its parent."""
    created = await create_device(client, station.auth, parent=ATTACHED[0], name="probe")
    assert len(created["id"]) == 16
    int(created["id"], 16)
    assert created["name"] == "probe"
    assert created["status"] == "new"
    parent = (await client.get(f"{API}/device/{ATTACHED[0]}", auth=station.auth)).json()
    assert parent["attached_devices"] == [created["id"]]
