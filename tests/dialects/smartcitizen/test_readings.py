"""Readings: stored through POST readings, the legacy /add and core ingest, read back through
GET readings with rollups checked against buckets computed here; access and bad input."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.schemas import Reading
from thingport.dialects.smartcitizen.state import state_of
from thingport.platform import Platform

BASE = "/smartcitizen/v0"
KIT_21, SCK_11 = 26, 3
T0 = datetime(2024, 1, 1, tzinfo=UTC)
RANGE = {"from": "2023-12-01T00:00:00Z", "to": "2024-04-01T00:00:00Z"}
INTERVALS = {"1m": 60_000, "1h": 3_600_000, "1d": 86_400_000, "1M": 30 * 86_400_000}
AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "avg": mean,
    "max": max,
    "min": min,
    "sum": sum,
    "count": len,
}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected(points: list[tuple[int, float]], rollup: str, function: str) -> list[list[Any]]:
    """Buckets as docs/ARCHITECTURE.md §6 defines them (start at ts - ts % interval, UTC),
    newest first."""
    interval = INTERVALS[rollup]
    buckets: dict[int, list[float]] = defaultdict(list)
    for ts, value in points:
        buckets[ts - ts % interval].append(value)
    return [[_iso(b), AGGREGATES[function](vs)] for b, vs in sorted(buckets.items(), reverse=True)]


def assert_readings(got: list[list[Any]], want: list[list[Any]]) -> None:
    assert [t for t, _ in got] == [t for t, _ in want]
    for (_, value), (_, wanted) in zip(got, want, strict=True):
        assert value == pytest.approx(wanted)


# Seventy days of readings every 7h13m: several months, days and hours, a few per bucket.
POINTS = [(_ms(T0 + timedelta(minutes=433 * i)), float((i * 7) % 23) + 0.25) for i in range(233)]


async def _device(platform: Platform, owner: Account, **fields: Any) -> tuple[int, str]:
    async with platform.core() as core:
        device = await core.devices.create(owner.principal, DeviceCreate(**fields))
    return device.id, device.key


def _auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


async def _get(
    client: httpx.AsyncClient, device_id: int, account: Account | None = None, /, **params: Any
) -> httpx.Response:
    return await client.get(
        f"{BASE}/devices/{device_id}/readings",
        params=params,
        headers=_auth(account) if account else None,
    )


async def test_posted_readings_come_back_rolled_up(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    device_id, _ = await _device(platform, alice, type_id=KIT_21, public=True)
    body = {
        "data": [
            {"recorded_at": _iso(ts), "sensors": [{"id": 55, "value": value}]}
            for ts, value in POINTS
        ]
    }
    posted = await client.post(
        f"{BASE}/devices/{device_id}/readings", json=body, headers=_auth(alice)
    )
    assert posted.status_code == 200, posted.text
    assert posted.json() == {
        "id": "ok",
        "message": "Data successfully sent to queue",
        "url": "",
        "errors": "",
    }
    for rollup in INTERVALS:
        for function in AGGREGATES:
            response = await _get(
                client, device_id, rollup=rollup, function=function, sensor_id=55, **RANGE
            )
            assert response.status_code == 200, response.text
            result = response.json()
            assert_readings(result["readings"], expected(POINTS, rollup, function))
    assert {k: v for k, v in result.items() if k != "readings"} == {
        "device_id": device_id,
        "sensor_key": "sht31_t",
        "sensor_id": 55,
        "component_id": result["component_id"],
        "rollup": "1M",
        "function": "count",
        "from": "2023-12-01T00:00:00Z",
        "to": "2024-04-01T00:00:00Z",
        "sample_size": len(POINTS),
    }
    # The component is the device's series for sensor 55.
    async with platform.core() as core:
        series = (await core.telemetry.series_of_devices([device_id]))[device_id]
    assert result["component_id"] == next(s.id for s in series if s.key == "55")


async def test_ids_keys_and_numeric_strings_all_name_sensors(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    device_id, _ = await _device(platform, alice, type_id=KIT_21)
    body = {
        "data": [
            {
                "recorded_at": "2024-01-02T03:04:00Z",
                "sensors": [
                    {"id": 55, "value": 21.5},
                    {"id": "sht31_h", "value": "40.5"},
                    {"id": "88", "value": 12},
                    {"id": 58, "value": None},  # no value: nothing to store
                ],
            }
        ]
    }
    response = await client.post(
        f"{BASE}/devices/{device_id}/readings", json=body, headers=_auth(alice)
    )
    assert response.status_code == 200, response.text
    day = {"from": "2024-01-02", "to": "2024-01-03", "rollup": "1h"}
    for params, want in (
        ({"sensor_id": 55}, 21.5),
        ({"sensor_key": "sht31_h"}, 40.5),
        ({"sensor_id": 88}, 12.0),
        ({"sensor_key": "pm_avg_25"}, 12.0),
    ):
        got = (await _get(client, device_id, alice, **params, **day)).json()
        assert got.get("readings") == [["2024-01-02T03:00:00Z", want]], params
    by_key = (await _get(client, device_id, alice, sensor_key="sht31_h", **day)).json()
    assert (by_key["sensor_id"], by_key["sensor_key"]) == (56, "sht31_h")
    pressure = (await _get(client, device_id, alice, sensor_id=58, **day)).json()
    assert pressure["readings"] == []
    assert pressure["component_id"] is None
    assert pressure["sample_size"] == 0


async def test_core_ingest_and_limit_and_newest_first(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    device_id, key = await _device(platform, alice, type_id=KIT_21, public=True)
    points = [(_ms(T0 + timedelta(minutes=m)), float(m)) for m in range(10)]
    async with platform.core() as core:
        await core.telemetry.ingest(
            alice.principal, key, [Reading("58", value, ts) for ts, value in points]
        )
    result = (
        await _get(client, device_id, sensor_key="mpl_p", rollup="1m", function="max", **RANGE)
    ).json()
    assert result["sensor_id"] == 58
    assert_readings(result["readings"], expected(points, "1m", "max"))
    assert result["readings"][0][0] == "2024-01-01T00:09:00Z"  # newest first
    times = [t for t, _ in result["readings"]]
    assert times == sorted(times, reverse=True)
    limited = await _get(client, device_id, sensor_id=58, rollup="1m", limit=3, **RANGE)
    assert [v for _, v in limited.json()["readings"]] == [9.0, 8.0, 7.0]
    assert limited.json()["sample_size"] == 10


async def test_first_last_and_dev(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    device_id, key = await _device(platform, alice, type_id=KIT_21)
    values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
    async with platform.core() as core:
        await core.telemetry.ingest(
            alice.principal,
            key,
            [Reading("55", v, _ms(T0 + timedelta(minutes=i))) for i, v in enumerate(values)],
        )
    for function, want in (("first", 2.0), ("last", 9.0), ("dev", 2.0)):
        got = await _get(
            client, device_id, alice, sensor_id=55, rollup="1d", function=function, **RANGE
        )
        assert got.json()["readings"] == [["2024-01-01T00:00:00Z", pytest.approx(want)]]


async def test_the_connectors_date_form_sent_raw(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    """smartcitizen-connector writes `str(timestamp)` into the URL unencoded: both `+` arrive
    as spaces (`2001-01-01 00:00:00 00:00`)."""
    device_id, key = await _device(platform, alice, type_id=KIT_21, public=True)
    async with platform.core() as core:
        await core.telemetry.ingest(alice.principal, key, [Reading("55", 20.0, _ms(T0))])
    url = (
        f"{BASE}/devices/{device_id}/readings?from=2001-01-01+00:00:00+00:00"
        "&to=2024-01-02+03:04:05.123000+00:00&rollup=1m&sensor_id=55&function=avg"
    )
    response = await client.get(url)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["from"] == "2001-01-01T00:00:00Z"
    assert result["to"] == "2024-01-02T03:04:05Z"
    assert result["readings"] == [["2024-01-01T00:00:00Z", 20.0]]
    # Epoch seconds, plain dates and ISO with offsets are dates too.
    for start, end in (
        ("1704067200", "1704153600"),
        ("2024-01-01", "20240102"),
        ("2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00-01:00"),
    ):
        got = await _get(client, device_id, sensor_id=55, rollup="1h", **{"from": start, "to": end})
        assert got.json().get("readings") == [["2024-01-01T00:00:00Z", 20.0]], got.text
    # Without dates: the last six weeks up to now.
    recent = (await _get(client, device_id, sensor_id=55, rollup="1h")).json()
    span = datetime.fromisoformat(recent["to"]) - datetime.fromisoformat(recent["from"])
    assert span == timedelta(weeks=6)


async def test_private_readings_are_hidden_from_others(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    device_id, key = await _device(platform, alice, type_id=KIT_21)
    async with platform.core() as core:
        await core.telemetry.ingest(alice.principal, key, [Reading("55", 20.0, _ms(T0))])
    params = {"sensor_id": 55, "rollup": "1h", **RANGE}
    assert (await _get(client, device_id, alice, **params)).json()["readings"]
    for who in (bob, None):
        response = await _get(client, device_id, who, **params)
        assert response.status_code == 404
        assert response.json()["id"] == "record_not_found"
    missing = await _get(client, 999_999, alice, **params)
    assert missing.json()["message"] == "Couldn't find Device with 'id'=999999"


async def test_only_the_owner_may_post(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    public_id, _ = await _device(platform, alice, type_id=KIT_21, public=True)
    private_id, _ = await _device(platform, alice, type_id=KIT_21)
    body = {"data": [{"recorded_at": "2024-01-01T00:00:00Z", "sensors": [{"id": 55, "value": 1}]}]}
    url = f"{BASE}/devices/{{}}/readings"
    anonymous = await client.post(url.format(public_id), json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["id"] == "unauthorized"
    assert (
        await client.post(url.format(public_id), json=body, headers=_auth(bob))
    ).status_code == 403
    assert (
        await client.post(url.format(private_id), json=body, headers=_auth(bob))
    ).status_code == 404
    result = (await _get(client, public_id, sensor_id=55, rollup="1h", **RANGE)).json()
    assert result["readings"] == []


@pytest.mark.parametrize(
    ("params", "status", "fragment", "code"),
    [
        (
            {"sensor_id": 55},
            400,
            "param is missing or the value is empty: rollup and sensor_key OR sensor_id",
            "parameter_missing",
        ),
        (
            {"rollup": "1h"},
            400,
            "param is missing or the value is empty: rollup and sensor_key OR sensor_id",
            "parameter_missing",
        ),
        ({"rollup": "1h", "sensor_id": ""}, 400, "param is missing", "parameter_missing"),
        ({"rollup": "1x", "sensor_id": 55}, 400, "The rollup parameter must be", "bad_request"),
        ({"rollup": "h", "sensor_id": 55}, 400, "The rollup parameter must be", "bad_request"),
        ({"rollup": "0h", "sensor_id": 55}, 400, "The rollup parameter must be", "bad_request"),
        ({"rollup": "1h-avg", "sensor_id": 55}, 400, "The rollup parameter must be", "bad_request"),
        (
            {"rollup": "1h", "sensor_id": 55, "from": "2020-15"},
            400,
            "The from parameter must be an ISO8601",
            "bad_request",
        ),
        (
            {"rollup": "1h", "sensor_id": 55, "to": "soon"},
            400,
            "The to parameter must be an ISO8601",
            "bad_request",
        ),
        (
            {"rollup": "1h", "sensor_id": 55, "function": "median"},
            400,
            "The function parameter",
            "bad_request",
        ),
        ({"rollup": "1h", "sensor_id": "abc"}, 400, "The sensor_id parameter", "bad_request"),
        (
            {"rollup": "1h", "sensor_id": 55, "limit": "-1"},
            400,
            "The limit parameter",
            "bad_request",
        ),
        (
            {"rollup": "1h", "sensor_id": 55, "from": "2024-02-01", "to": "2024-01-01"},
            400,
            "before",
            "bad_request",
        ),
    ],
)
async def test_bad_queries(
    client: httpx.AsyncClient,
    platform: Platform,
    alice: Account,
    params: dict[str, Any],
    status: int,
    fragment: str,
    code: str,
) -> None:
    device_id, _ = await _device(platform, alice, type_id=KIT_21, public=True)
    response = await _get(client, device_id, **params)
    assert response.status_code == status, response.text
    body = response.json()
    assert fragment in body["message"]
    assert body["id"] == code
    assert body["url"] == ""


def _post_body(*items: tuple[object, list[tuple[object, object]]]) -> bytes:
    return orjson.dumps(
        {
            "data": [
                {"recorded_at": at, "sensors": [{"id": i, "value": v} for i, v in sensors]}
                for at, sensors in items
            ]
        }
    )


_AT = "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("content", "status", "error_key"),
    [
        (_post_body((_AT, [(55, 1)]))[:-5], 400, None),
        (b"{}", 400, None),
        (b"", 400, None),
        (_post_body((_AT, [(55, 1), (9999, 2)])), 422, "data[0].sensors[1].id"),
        (_post_body((_AT, [(55, 1), ("nokey", 2)])), 422, "data[0].sensors[1].id"),
        # Sensor 54 (Sensirion SHT31) is the parent of 55 and 56: it records nothing itself.
        (_post_body((_AT, [(55, 1), (54, 2)])), 422, "data[0].sensors[1].id"),
        (_post_body((_AT, [(55, "warm")])), 422, "data[0].sensors[0].value"),
        (_post_body((_AT, [(55, 1)]), ("", [(55, 1)])), 422, "data[1].recorded_at"),
        (_post_body(("yesterday-ish", [(55, 1)])), 422, "data[0].recorded_at"),
        (_post_body(("2999-01-01T00:00:00Z", [(55, 1)])), 422, "data[0].recorded_at"),
    ],
)
async def test_bad_posts_store_nothing(
    client: httpx.AsyncClient,
    platform: Platform,
    alice: Account,
    content: bytes,
    status: int,
    error_key: str | None,
) -> None:
    device_id, _ = await _device(platform, alice, type_id=KIT_21, public=True)
    response = await client.post(
        f"{BASE}/devices/{device_id}/readings",
        content=content,
        headers={**_auth(alice), "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    body = response.json()
    if error_key is not None:
        assert body["id"] == "unprocessable_entity"
        assert error_key in body["errors"], body
    result = (await _get(client, device_id, sensor_id=55, rollup="1y", **RANGE)).json()
    assert result["readings"] == []
    assert result["sample_size"] == 0


_CLOCK = re.compile(r"UTC:(\d{4}),(\d{1,2}),(\d{1,2}),(\d{2}),(\d{2}),(\d{2})#")


def _clock_time(text: str) -> datetime:
    match = _CLOCK.fullmatch(text)
    assert match is not None, text
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _legacy_rejections(app: FastAPI) -> Counter[str]:
    """The rejection counts of this app's SmartCitizen sub-app (each app keeps its own)."""
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/smartcitizen")
    assert isinstance(mount.app, FastAPI)
    return state_of(mount.app).legacy_rejections


async def test_legacy_add_stores_the_kits_keys_and_answers_the_clock(
    client: httpx.AsyncClient, app: FastAPI, platform: Platform, alice: Account
) -> None:
    device_id, _ = await _device(
        platform, alice, type_id=SCK_11, public=True, mac_address="00:1C:B3:09:85:15"
    )
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = now - timedelta(days=2, minutes=5), now - timedelta(days=2)

    def stamp(moment: datetime) -> str:
        return f"{moment:%Y-%m-%d} {moment.hour}:{moment:%M:%S}"  # "2013-10-28 1:34:26"

    data = (
        f'[{{"temp":"29090.6","hum":"6815.74","bogus":"1","timestamp":"{stamp(first)}"}},'
        f'{{"temp":"29100.2","bat":"786","timestamp":"{stamp(second)}"}},'
        '{"temp":"1","timestamp":"2013-10-28 1:34:26"}]'
    )
    before = sum(_legacy_rejections(app).values())
    response = await client.post(
        "/smartcitizen/add",
        headers={
            "X-SmartCitizenMacADDR": "00:1c:b3:09:85:15",
            "X-SmartCitizenVersion": "1.1-0.8.5-A",
            "X-SmartCitizenData": data,
        },
    )
    assert response.status_code == 200
    assert abs(_clock_time(response.text) - datetime.now(UTC)) < timedelta(seconds=5)
    # "bogus" is no key of an SCK 1.1, and 2013 is more than three years ago.
    assert sum(_legacy_rejections(app).values()) == before + 2
    window = {"from": _iso(_ms(now - timedelta(days=3))), "to": _iso(_ms(now))}
    temp = (await _get(client, device_id, sensor_key="temp", rollup="1s", **window)).json()
    assert temp["sensor_id"] == 12
    assert temp["readings"] == [[_iso(_ms(second)), 29100.2], [_iso(_ms(first)), 29090.6]]
    battery = (await _get(client, device_id, sensor_id=17, rollup="1s", **window)).json()
    assert battery["readings"] == [[_iso(_ms(second)), 786.0]]
    humidity = (
        await _get(client, device_id, sensor_id=13, rollup="1d", function="count", **window)
    ).json()
    assert humidity["sample_size"] == 1


async def test_legacy_add_answers_even_when_nothing_is_stored(
    client: httpx.AsyncClient, app: FastAPI, platform: Platform, alice: Account
) -> None:
    before = _legacy_rejections(app).copy()
    for method in ("GET", "PUT", "PATCH", "POST"):
        for path in ("/smartcitizen/add", "/smartcitizen/v0/add"):
            response = await client.request(
                method,
                path,
                headers={
                    "X-SmartCitizenMacADDR": "ff:ff:ff:ff:ff:ff",
                    "X-SmartCitizenData": "[{}]",
                },
            )
            assert response.status_code == 200
            _clock_time(response.text)
    unknown = "no device has this MAC address"
    assert _legacy_rejections(app)[unknown] == before[unknown] + 8
    broken = await client.get("/smartcitizen/add", headers={"X-SmartCitizenData": "[{"})
    assert broken.status_code == 200
    _clock_time(broken.text)


async def test_datetime(client: httpx.AsyncClient) -> None:
    for path in ("/smartcitizen/v0/datetime", "/smartcitizen/datetime"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert abs(_clock_time(response.text) - datetime.now(UTC)) < timedelta(seconds=5)
