"""Malformed input: always a 4xx in the one error envelope, never a 500, and a rejected request
changes nothing (the devices and their data are compared with a snapshot taken before)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import Account, basic
from tests.dialects.smartmocha.conftest import (
    API,
    ATTACHED,
    BASE_STATION,
    BATTERY,
    UNCHECKED,
    Json,
    Station,
    Unchecked,
    assert_error,
    create_device,
    ingest,
    metric_ids,
)

MISSING = "FFFFFFFFFFFFFFFF"
DATA = f"{API}/device/{BASE_STATION}/data"
DEVICE = f"{API}/device/{BASE_STATION}"
GOOD = {"metric": BATTERY, "value": 1.0, "ts": 1399400000}
# Everything ever stored, at one-second resolution (all test points are whole seconds).
EVERYTHING = {"start": "0", "end": "9999999999"}


@dataclass(frozen=True)
class Bad:
    """One malformed request and the error it must get."""

    name: str
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    status: int = 400
    code: str = "invalid_input"
    param: str | Unchecked | None = UNCHECKED

    async def send(self, client: httpx.AsyncClient, auth: httpx.Auth) -> httpx.Response:
        kwargs: dict[str, Any] = {"params": self.params, "auth": auth}
        if self.content is not None:
            kwargs["content"] = self.content
            kwargs["headers"] = {"content-type": "application/json"}
        elif self.json is not None:
            kwargs["json"] = self.json
        return await client.request(self.method, self.url, **kwargs)


async def snapshot(client: httpx.AsyncClient, auth: httpx.Auth) -> Json:
    """The devices as listed, and every stored point of every device (value and count)."""
    listing = await client.get(f"{API}/devices", auth=auth)
    assert listing.status_code == 200, listing.text
    state: Json = {"devices": listing.json()}
    for device in listing.json()["data"]:
        if not device["metrics"]:
            continue  # no series, so no points (a new series would show up in the listing)
        for rollup in ("1s-avg", "1s-count"):
            url = f"{API}/device/{device['id']}/data"
            data = await client.get(url, params=EVERYTHING | {"rollup": rollup}, auth=auth)
            assert data.status_code == 200, data.text
            state[f"{device['id']} {rollup}"] = data.json()
    return state


async def check_rejected(client: httpx.AsyncClient, auth: httpx.Auth, cases: Sequence[Bad]) -> None:
    before = await snapshot(client, auth)
    assert before["devices"]["count"] >= 1
    for case in cases:
        response = await case.send(client, auth)
        assert response.status_code == case.status, f"{case.name}: {response.text}"
        assert_error(response, case.status, case.code, param=case.param)
        assert await snapshot(client, auth) == before, f"{case.name} changed stored data"


def data_query(name: str, param: str | None, **params: str) -> Bad:
    return Bad(name, "GET", DATA, params=params, param=param)


QUERY_CASES = [
    data_query("missing rollup", "rollup", start="2014-05-01"),
    data_query("empty rollup", "rollup", start="2014-05-01", rollup=""),
    data_query("missing start", "start", rollup="1h-avg"),
    data_query("empty start", "start", rollup="1h-avg", start=" "),
    data_query("missing both", "rollup"),
    *(
        data_query(f"rollup {rollup}", "rollup", start="2014-05-01", rollup=rollup)
        for rollup in (
            "1x-avg",
            "1h-median",
            "avg",
            "1h-avg-sometimes",
            "h-avg",
            "0h-avg",
            "-1h-avg",
            "1.5h-avg",
            "1h-",
            "-avg",
            "1h avg",
            "1h-avg-zero-more",
            "1H-avg",
        )
    ),
    data_query("too many filled buckets", "rollup", start="2014-05-01", rollup="1ms-avg-zero"),
    *(
        data_query(f"start {start}", "start", start=start, rollup="1h-avg")
        for start in (
            "yesterday-ish",
            "2014-13-01",
            "2014-02-30",
            "May 2014",
            "1h-ahead",
            "1x-ago",
            "NaN",
            "Infinity",
            "inf",
            "-1",
            "12345678901234",
        )
    ),
    data_query("end garbage", "end", start="2014-05-01", end="whenever", rollup="1h-avg"),
    data_query("end NaN", "end", start="2014-05-01", end="nan", rollup="1h-avg"),
    data_query("end before start", "end", start="2014-05-02", end="2014-05-01", rollup="1h-avg"),
    data_query("end before start, relative", "end", start="1h-ago", end="2h-ago", rollup="1h-avg"),
]


async def test_bad_query_parameters(api: httpx.AsyncClient, station: Station) -> None:
    await check_rejected(api, station.auth, QUERY_CASES)


async def test_unknown_metric_and_device_in_queries(
    api: httpx.AsyncClient, station: Station
) -> None:
    await ingest(api, station.auth, ATTACHED[0], [{"metric": "elsewhere", "value": 1.0, "ts": 1}])
    own = await metric_ids(api, station.auth, BASE_STATION)
    foreign = (await metric_ids(api, station.auth, ATTACHED[0]))["elsewhere"]
    valid = {"start": "2014-05-01", "rollup": "1h-avg"}
    cases = [
        Bad("unknown metric id", "GET", DATA, valid | {"metric_id": "nope"}, param="metric_id"),
        Bad("empty metric id list", "GET", DATA, valid | {"metric_id": ";;"}, param="metric_id"),
        Bad(
            "one known, one unknown",
            "GET",
            DATA,
            valid | {"metric_id": f"{own[BATTERY]};00000000-0000-0000-0000-000000000000"},
            param="metric_id",
        ),
        Bad(
            "another device's metric",
            "GET",
            DATA,
            valid | {"metric_id": foreign},
            param="metric_id",
        ),
        Bad(
            "unknown device",
            "GET",
            f"{API}/device/{MISSING}/data",
            valid,
            status=404,
            code="not_found",
            param="device_id",
        ),
        Bad("unknown device", "GET", f"{API}/device/{MISSING}", status=404, code="not_found"),
        Bad("unknown route", "GET", f"{API}/devise", status=404, code="not_found"),
        Bad("unsupported method", "DELETE", DEVICE, status=405, code="method_not_allowed"),
    ]
    await check_rejected(api, station.auth, cases)


def post(name: str, body: Any, param: str | Unchecked | None = UNCHECKED) -> Bad:
    return Bad(name, "POST", DATA, json=body, param=param)


def post_raw(name: str, content: bytes, param: str | Unchecked | None = UNCHECKED) -> Bad:
    return Bad(name, "POST", DATA, content=content, param=param)


INGEST_CASES = [
    post_raw("invalid JSON", b'{"metric": "Battery Voltage", "value": 1', None),
    post_raw("trailing comma", b'[{"metric": "Battery Voltage", "value": 1},]', None),
    post_raw("empty body", b""),
    post("value abc", {"metric": BATTERY, "value": "abc"}, "0.value"),
    post("value true", {"metric": BATTERY, "value": True}, "0.value"),
    post("value null", {"metric": BATTERY, "value": None}, "0.value"),
    post("value list", {"metric": BATTERY, "value": [1.0]}, "0.value"),
    post("value object", {"metric": BATTERY, "value": {"v": 1}}, "0.value"),
    post("unknown field", {"metric": BATTERY, "value": 1.0, "colour": "red"}, "0.colour"),
    post("missing metric", {"value": 1.0}, "0.metric"),
    post("missing value", {"metric": BATTERY}, "0.value"),
    post("empty metric", {"metric": "", "value": 1.0}, "0.metric"),
    post("metric too long", {"metric": "m" * 101, "value": 1.0}, "0.metric"),
    post("metric not a string", {"metric": 5, "value": 1.0}, "0.metric"),
    post("unit too long", {"metric": BATTERY, "value": 1.0, "unit": "u" * 33}, "0.unit"),
    post("empty list", [], "readings"),
    post("empty object", {}, "0.metric"),
    post("a string", "abc", None),
    post("a number", 5, None),
    post("list of numbers", [1, 2], "0"),
    post("value 'NaN'", {"metric": BATTERY, "value": "NaN"}, "0.value"),
    post("value 'nan'", {"metric": BATTERY, "value": "nan"}, "0.value"),
    post("value 'Infinity'", {"metric": BATTERY, "value": "Infinity"}, "0.value"),
    post("value '-Infinity'", {"metric": BATTERY, "value": "-Infinity"}, "0.value"),
    post("value 'inf'", {"metric": BATTERY, "value": "inf"}, "0.value"),
    post("value '1e999'", {"metric": BATTERY, "value": "1e999"}, "0.value"),
    post_raw("bare NaN", b'{"metric": "Battery Voltage", "value": NaN}', "value"),
    post_raw("bare Infinity", b'{"metric": "Battery Voltage", "value": Infinity}', "value"),
    post_raw("bare -Infinity", b'[{"metric": "Battery Voltage", "value": -Infinity}]', "value"),
    post_raw("overflowing 1e999", b'{"metric": "Battery Voltage", "value": 1e999}', "value"),
    post("ts garbage", GOOD | {"ts": "yesterday-ish"}, "0.ts"),
    post("ts 'NaN'", GOOD | {"ts": "NaN"}, "0.ts"),
    post("ts 'Infinity'", GOOD | {"ts": "Infinity"}, "0.ts"),
    post_raw("ts bare NaN", b'{"metric": "m", "value": 1, "ts": NaN}', "0.ts"),
    post_raw("ts bare Infinity", b'{"metric": "m", "value": 1, "ts": Infinity}', "0.ts"),
    post("ts true", GOOD | {"ts": True}, "0.ts"),
    post("ts negative", GOOD | {"ts": -5}, "0.ts"),
    post("ts 14 digits", GOOD | {"ts": 12345678901234}, "0.ts"),
    post("ts 1e300", GOOD | {"ts": 1e300}, "0.ts"),
    post("ts list", GOOD | {"ts": [1]}, "0.ts"),
    post("ts year 1", GOOD | {"ts": "0001-01-01"}, "ts"),
    # A batch is stored whole or not at all: the good first reading must not be stored either.
    post("batch, second value abc", [GOOD, {"metric": "new", "value": "abc"}], "1.value"),
    post("batch, second value NaN", [GOOD, {"metric": "new", "value": "NaN"}], "1.value"),
    post("batch, second ts garbage", [GOOD, {"metric": "new", "value": 2, "ts": "x"}], "1.ts"),
    post("batch, second unknown field", [GOOD, GOOD | {"extra": 1}], "1.extra"),
    Bad(
        "unknown device",
        "POST",
        f"{API}/device/{MISSING}/data",
        json=GOOD,
        status=404,
        code="not_found",
        param="device_id",
    ),
]


async def test_bad_ingest_bodies(api: httpx.AsyncClient, station: Station) -> None:
    await check_rejected(api, station.auth, INGEST_CASES)


def put(name: str, body: Any, param: str | Unchecked | None = UNCHECKED) -> Bad:
    return Bad(name, "PUT", DEVICE, json=body, param=param)


PUT_CASES = [
    put("unknown field", {"colour": "red"}, "colour"),
    put("known and unknown field", {"name": "changed", "colour": "red"}, "colour"),
    # name is applied before deployed is refused: the transaction must roll the name back
    put("half valid", {"name": "changed", "deployed": None}, "deployed"),
    put("deployed maybe", {"deployed": "maybe"}, "deployed"),
    put("name a number", {"name": 5}, "name"),
    put("name too long", {"name": "n" * 256}, "name"),
    put("location a list", {"location": ["520 SW Yamhill St"]}, "location"),
    put("location too long", {"location": "l" * 256}, "location"),
    put("firmware too long", {"firmware_version": "1" * 65}, "firmware_version"),
    put("a list", [], None),
    put("a string", "awesome basestation", None),
    Bad("invalid JSON", "PUT", DEVICE, content=b'{"name": "x"', param=None),
    Bad(
        "unknown device",
        "PUT",
        f"{API}/device/{MISSING}",
        json={"name": "x"},
        status=404,
        code="not_found",
        param="device_id",
    ),
]


async def test_bad_updates(api: httpx.AsyncClient, station: Station) -> None:
    await check_rejected(api, station.auth, PUT_CASES)


def register(
    name: str,
    body: Any,
    param: str | Unchecked | None = UNCHECKED,
    status: int = 400,
    code: str = "invalid_input",
) -> Bad:
    return Bad(name, "POST", f"{API}/devices", json=body, param=param, status=status, code=code)


REGISTER_CASES = [
    register("duplicate id", {"id": BASE_STATION}, "id", 409, "conflict"),
    register("duplicate id, other fields", {"id": ATTACHED[1], "name": "x"}, "id", 409, "conflict"),
    register("bad id", {"id": "bad id!"}, "id"),
    register("empty id", {"id": ""}, "id"),
    register("id too long", {"id": "A" * 65}, "id"),
    register("unknown parent", {"id": "NEW0000000000001", "parent": MISSING}, "parent"),
    register("own parent", {"id": "NEW0000000000001", "parent": "NEW0000000000001"}, "parent"),
    register("unknown field", {"id": "NEW0000000000001", "colour": "red"}, "colour"),
    register("deployed maybe", {"id": "NEW0000000000001", "deployed": "maybe"}, "deployed"),
    register("a list", [{"id": "NEW0000000000001"}], None),
    Bad("invalid JSON", "POST", f"{API}/devices", content=b'{"id": "NEW0', param=None),
]


async def test_bad_registrations(api: httpx.AsyncClient, station: Station) -> None:
    await check_rejected(api, station.auth, REGISTER_CASES)


async def test_device_ids_are_global(
    api: httpx.AsyncClient, station: Station, bob: Account
) -> None:
    """Bob cannot register an id Alice holds (ids are hardware serials): 409, and nothing of
    Alice's changes."""
    before = await snapshot(api, station.auth)
    taken = await api.post(
        f"{API}/devices", json={"id": BASE_STATION, "name": "mine"}, auth=basic(bob.token)
    )
    assert_error(taken, 409, "conflict", param="id")
    assert await snapshot(api, station.auth) == before
    assert (await api.get(f"{API}/devices", auth=basic(bob.token))).json()["count"] == 0


async def test_a_rejected_request_after_good_ones_keeps_the_good_ones(
    api: httpx.AsyncClient, station: Station
) -> None:
    """The snapshot comparison can see a change: a good write right before is kept."""
    auth = station.auth
    await create_device(api, auth, id="NEW0000000000001")
    await ingest(api, auth, "NEW0000000000001", [GOOD])
    before = await snapshot(api, auth)
    assert [d["id"] for d in before["devices"]["data"]][-1] == "NEW0000000000001"
    key = "NEW0000000000001 1s-avg"
    assert before[key]["results"][0]["data"] == {str(GOOD["ts"]): 1.0}
    rejected = await api.post(
        f"{API}/device/NEW0000000000001/data", json=[GOOD | {"value": 2.0}, {}], auth=auth
    )
    assert_error(rejected, 400, "invalid_input", param="1.metric")
    assert await snapshot(api, auth) == before


# -- times and intervals beyond what dates and int64 can hold ---------------------------------

# These were 500s (an OverflowError formatting a date before year 1, int64 overflow in SQL) until
# the query planner bounded times to the years 1..9999 and intervals to 10000y.
OUT_OF_RANGE = [
    ({"start": "3000y-ago", "rollup": "1h-avg"}, "start"),
    ({"start": "2014-05-01", "end": "3000y-ago", "rollup": "1h-avg"}, "end"),
    ({"start": "99999999999999999999y-ago", "rollup": "1h-avg"}, "start"),
    ({"start": "2014-05-01", "rollup": "99999999999999999999y-avg"}, "rollup"),
    ({"start": "2014-05-01", "rollup": "300000000y-avg"}, "rollup"),  # just past int64 in ms
    ({"start": "2014-05-01", "rollup": "10001y-avg"}, "rollup"),
    ({"start": "2014-05-01", "rollup": "999999999999999999999999999ms-avg"}, "rollup"),
]


async def test_out_of_range_times_and_intervals_are_400(
    api: httpx.AsyncClient, station: Station
) -> None:
    before = await snapshot(api, station.auth)
    for params, param in OUT_OF_RANGE:
        response = await api.get(DATA, params=params, auth=station.auth)
        assert response.status_code == 400, f"{params}: {response.text}"
        assert_error(response, 400, "invalid_input", param=param)
    # the edges themselves are fine
    for params in (
        {"start": "0001-01-01", "rollup": "1d-max"},
        {"start": "2014-05-01", "end": "9999-12-31T23:59:59", "rollup": "10000y-max"},
    ):
        response = await api.get(DATA, params=params, auth=station.auth)
        assert response.status_code == 200, f"{params}: {response.text}"
        assert response.json()["results"][0]["data"], params
    assert await snapshot(api, station.auth) == before
