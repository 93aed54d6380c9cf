"""Runs the official smartcitizen-connector against a Thingport server and prints what it got,
as one JSON document on stdout.

The connector reads `API_URL` once, when it is imported, so each run is its own process:
`API_URL=http://127.0.0.1:PORT/smartcitizen/v0/ SC_BEARER=token python connector_driver.py
'[["scenario", "arg", ...], ...]'` prints a JSON list with one result per step. The tests in
test_connector.py start the server and read the output.
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from collections.abc import Callable
from typing import Any

warnings.simplefilter("ignore")  # pandas and pydantic deprecation noise from the client

import pandas as pd  # noqa: E402
import requests  # noqa: E402
from smartcitizen_connector import (  # noqa: E402
    SCDevice,
    get_measurements,
    get_sensors,
    get_world_map,
    global_search,
    search_by_query,
)
from smartcitizen_connector.device.device import get_devices  # noqa: E402


def list_devices() -> dict[str, Any]:
    devices = get_devices()
    return {"ids": [d.id for d in devices], "names": [d.name for d in devices]}


def search(key: str, matcher: str, value: str) -> dict[str, Any]:
    items = [{"key": key, "search_matcher": matcher, "value": value}]
    try:
        frame = search_by_query(endpoint="devices", search_items=items)
    except requests.HTTPError as error:
        return {"error": error.response.status_code if error.response is not None else None}
    if frame is None:
        return {"ids": [], "total": 0}
    return {"ids": sorted(int(i) for i in frame.index), "total": frame.attrs.get("total")}


def search_global(value: str) -> dict[str, Any]:
    frame = global_search(value)
    return {"rows": json.loads(frame.reset_index().to_json(orient="records"))}


def load_device(device_id: str) -> dict[str, Any]:
    device = SCDevice(int(device_id), check_postprocessing=False)
    model = device.json
    return {
        "id": model.id,
        "uuid": model.uuid,
        "name": model.name,
        "state": model.state,
        "owner": model.owner.username if model.owner else None,
        "latitude": model.location.latitude if model.location else None,
        "geohash": model.location.geohash if model.location else None,
        "sensors": [{"id": s.id, "name": s.name, "value": s.value} for s in model.data.sensors],
        "last_reading_at": model.last_reading_at.isoformat() if model.last_reading_at else None,
        "timezone": device.timezone,
        "data_policy": device.data_policy.model_dump() if device.data_policy else None,
    }


def readings(device_id: str, start: str, end: str, frequency: str) -> dict[str, Any]:
    device = SCDevice(int(device_id), check_postprocessing=False)
    ok = asyncio.run(device.get_data(min_date=start, max_date=end, frequency=frequency))
    frame: pd.DataFrame = device.data
    columns: dict[str, list[list[Any]]] = {}
    for column in frame.columns:
        series = frame[column].dropna()
        columns[str(column)] = [
            [stamp.tz_convert("UTC").isoformat(), float(value)] for stamp, value in series.items()
        ]
    return {"ok": ok, "columns": columns, "failed": device.failed_sensors}


def post(device_id: str, sensor_name: str, start: str, count: str) -> dict[str, Any]:
    """Post `count` one-minute readings (value = minute index) for one sensor, by name."""
    device = SCDevice(int(device_id), check_postprocessing=False)
    index = pd.date_range(start=start, periods=int(count), freq="1min", tz="UTC")
    device.data = pd.DataFrame({sensor_name: [float(i) for i in range(int(count))]}, index=index)
    ok = asyncio.run(device.post_data(columns=[sensor_name]))
    return {"ok": ok, "posted": device.posted, "not_posted": device.not_posted}


def catalogue() -> dict[str, Any]:
    sensors = get_sensors()
    measurements = get_measurements()
    return {
        "sensors": [[s.id, s.name] for s in sensors],
        "measurements": [[m.id, m.name] for m in measurements],
    }


def world_map() -> dict[str, Any]:
    return {"ids": [d.id for d in get_world_map()]}


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "list_devices": list_devices,
    "search": search,
    "search_global": search_global,
    "load_device": load_device,
    "readings": readings,
    "post": post,
    "catalogue": catalogue,
    "world_map": world_map,
}

if __name__ == "__main__":
    steps: list[list[str]] = json.loads(sys.argv[1])
    results = [SCENARIOS[name](*args) for name, *args in steps]
    sys.stdout.write(json.dumps(results) + "\n")
