"""Readings: `GET|POST /v0/devices/:id/readings`, the legacy `/add` and `/v0/datetime`.

A sensor's readings on a device are the core series keyed `str(sensor_id)`, so whatever stored
them (this API, MQTT, another dialect, core ingest) they come back here, rolled up by the core
query planner: buckets start at `ts - ts % interval` in UTC, a month (`M`) being 30 days.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from thingport.core.accounts.schemas import SYSTEM
from thingport.core.catalog.schemas import SensorOut
from thingport.core.catalog.sensor_readings import SensorValue
from thingport.core.catalog.service import numeric_ref
from thingport.core.devices.schemas import DeviceOut
from thingport.core.telemetry.query import TimeRange
from thingport.dialects.smartcitizen import openapi, schemas
from thingport.dialects.smartcitizen.auth import CallerPrincipal, MaybePrincipal
from thingport.dialects.smartcitizen.errors import BadParameter, ParameterMissing, Unprocessable
from thingport.dialects.smartcitizen.params import RecordId, record_id, request_params
from thingport.dialects.smartcitizen.render import iso_ms, json_response
from thingport.dialects.smartcitizen.rollup import (
    DATE_HELP,
    FUNCTIONS,
    date_param,
    downsample,
    function_param,
    limit_param,
    rollup_param,
    window_ms,
)
from thingport.dialects.smartcitizen.state import StateDep
from thingport.dialects.smartcitizen.wire import (
    parse_data,
    reading_time,
    reading_value,
    refusal_errors,
)
from thingport.kit.errors import ThingportError
from thingport.platform import Core
from thingport.web.deps import CoreDep

log = logging.getLogger(__name__)

router = APIRouter()

# Legacy /add: the live service accepts readings stamped from 3 years ago (to a day ahead,
# as every reading: wire.py).
LEGACY_PAST = timedelta(days=3 * 365)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def _device_sensor_ids(core: Core, device: DeviceOut) -> tuple[list[int], dict[str, int]]:
    """The sensor ids the device has readings of, and its series ids by key."""
    series = (await core.telemetry.series_of_devices([device.id]))[device.id]
    by_key = {s.key: s.id for s in series}
    return [n for s in series if (n := numeric_ref(s.key)) is not None], by_key


# -- GET readings ---------------------------------------------------------------------------


# Every parameter is an optional string that rollup.py parses: the live service's own messages
# (400 bad_request, 400 parameter_missing) are the contract, not FastAPI's 422.
@router.get(
    "/devices/{ref}/readings",
    response_model=schemas.Readings,
    openapi_extra=openapi.read(),
)
async def get_readings(
    ref: RecordId,
    core: CoreDep,
    viewer: MaybePrincipal,
    rollup: Annotated[
        str | None, Query(description="bucket size, e.g. 1h, 15m, 1d, 1M (month), 1y")
    ] = None,
    sensor_id_param: Annotated[
        str | None,
        Query(alias="sensor_id", description="the sensor's id (this or sensor_key is required)"),
    ] = None,
    sensor_key: Annotated[
        str | None, Query(description="the sensor's key in the device's kit, e.g. temp")
    ] = None,
    function: Annotated[
        str | None,
        Query(description=f"how a bucket is aggregated: {', '.join(FUNCTIONS)} (default avg)"),
    ] = None,
    start_text: Annotated[
        str | None, Query(alias="from", description=f"{DATE_HELP}; default: `relative` before `to`")
    ] = None,
    end_text: Annotated[
        str | None, Query(alias="to", description=f"{DATE_HELP}; default now")
    ] = None,
    relative: Annotated[
        str | None,
        Query(description="the range before `to` when `from` is absent, e.g. 1w (default 6w)"),
    ] = None,
    limit_text: Annotated[
        str | None, Query(alias="limit", description="at most this many buckets, the newest")
    ] = None,
    all_intervals: Annotated[
        str | None, Query(description="true: every bucket of the range, empty ones as null")
    ] = None,
) -> Response:
    rollup_text = (rollup or "").strip()
    sensor_id_text = (sensor_id_param or "").strip()
    sensor_key = (sensor_key or "").strip() or None
    if not rollup_text or not (sensor_id_text or sensor_key):
        raise ParameterMissing("rollup", "sensor_key OR sensor_id")
    rollup = rollup_param(rollup_text, "rollup")
    function = function_param(function)
    limit = limit_param(limit_text)
    now = _ms(datetime.now(UTC))
    end = date_param(end_text, "to", now)
    end = now if end is None else end
    start = date_param(start_text, "from", now)
    if start is None:
        start = max(0, end - window_ms(relative))
    if end < start:
        raise BadParameter("The to parameter is before the from parameter", field="to")

    device = await core.devices.get_by_id(viewer, record_id("Device", ref))
    sensor_ids, series_ids = await _device_sensor_ids(core, device)
    sensor: SensorOut | None
    if sensor_id_text:
        if numeric_ref(sensor_id_text) is None:
            raise BadParameter(
                f"The sensor_id parameter must be a sensor id; got {sensor_id_text!r}",
                field="sensor_id",
            )
        sensor_id: int | None = int(sensor_id_text)
        sensor = await core.catalog.find_sensor(sensor_id_text)
        sensor_key = sensor.default_key if sensor is not None else sensor_key
    else:
        assert sensor_key is not None
        sensor = await core.catalog.find_sensor(
            sensor_key, type_id=device.type_id, also_ids=sensor_ids
        )
        sensor_id = sensor.id if sensor is not None else None

    series_key = str(sensor_id) if sensor_id is not None else None
    readings: list[list[Any]] = []
    sample_size = 0
    if series_key is not None and series_key in series_ids:
        # all_intervals=true: every bucket of the range, empty ones as null (the live service
        # only does this from 10 minutes up; here any rollup within the core's bucket limit).
        every_bucket = (all_intervals or "").lower() == "true"
        result = await core.telemetry.query(
            viewer,
            device.key,
            time_range=TimeRange(start, end),
            downsample=downsample(rollup, function, all_intervals=every_bucket),
            series_keys=[series_key],
            count_samples=True,
        )
        if result.results:
            points = result.results[0].points
            # Newest first; `limit` keeps the newest buckets (cut before formatting them).
            newest = points[-limit:] if limit is not None else points
            readings = [[iso_ms(ts), value] for ts, value in reversed(newest)]
            sample_size = result.results[0].sample_size or 0
    return json_response(
        {
            "device_id": device.id,
            "sensor_key": sensor_key,
            "sensor_id": sensor_id,
            "component_id": series_ids.get(series_key) if series_key is not None else None,
            "rollup": rollup,
            "function": function,
            "from": iso_ms(start),
            "to": iso_ms(end),
            "sample_size": sample_size,
            "readings": readings,
        }
    )


# -- POST readings --------------------------------------------------------------------------


@router.post(
    "/devices/{ref}/readings",
    response_model=schemas.Queued,
    openapi_extra=openapi.READINGS_BODY,
)
async def post_readings(
    ref: RecordId, request: Request, core: CoreDep, principal: CallerPrincipal
) -> Response:
    data = (await request_params(request)).get("data")
    if data is None or data == []:
        raise ParameterMissing("data")
    device = await core.devices.get_by_id(principal, record_id("Device", ref))
    # Only who may change the device may add to it (403 otherwise), checked before the input
    # so that a stranger learns nothing from validation messages.
    target = await core.devices.resolve(principal, device.key, change=True)
    if not isinstance(data, list):
        raise Unprocessable({"data": ["must be an array of readings"]})

    entries, errors = parse_data(data, _ms(datetime.now(UTC)))
    readings, refused = await core.sensor_readings(device.id, device.type_id, entries)
    errors.update(refusal_errors(refused))
    if errors:
        # All or nothing: a client that fixes the named entries can send the batch again.
        raise Unprocessable(errors)
    if readings:
        await core.telemetry.ingest_for(target, readings)
    return json_response(
        {"id": "ok", "message": "Data successfully sent to queue", "url": "", "errors": ""}
    )


# -- legacy /add and /datetime --------------------------------------------------------------


def _clock(now: datetime) -> Response:
    # Raw text (not a JSON string) with a JSON content type: what the live service sends and
    # what SCK 1.x firmware parses to set its clock.
    return Response(
        now.strftime(f"UTC:%Y,{now.month},{now.day},%H,%M,%S#"),
        media_type="application/json; charset=utf-8",
    )


def _reject(rejections: Counter[str], reason: str, count: int, mac: str) -> None:
    rejections[reason] += count
    log.warning("legacy /add from %r: %d reading(s) dropped: %s", mac, count, reason)


async def _store_legacy(
    request: Request, core: Core, now: datetime, rejections: Counter[str]
) -> None:
    raw = request.headers.get("x-smartcitizendata")
    if raw is None:
        return
    mac = request.headers.get("x-smartcitizenmacaddr", "")
    try:
        batch = orjson.loads(raw)
    except orjson.JSONDecodeError:
        _reject(rejections, "X-SmartCitizenData is not JSON", 1, mac)
        return
    if isinstance(batch, dict):
        batch = [batch]
    if not isinstance(batch, list):
        _reject(rejections, "X-SmartCitizenData is not an array of objects", 1, mac)
        return
    device = await core.devices.resolve_by_mac(mac) if mac.strip() else None
    if device is None:
        _reject(rejections, "no device has this MAC address", len(batch), mac)
        return
    entries: list[SensorValue] = []
    for item in batch:
        if not isinstance(item, dict):
            _reject(rejections, "an entry is not an object", 1, mac)
            continue
        try:
            ts = reading_time(item.get("timestamp"), _ms(now))
        except ValueError as error:
            _reject(rejections, f"timestamp {item.get('timestamp')!r} {error}", 1, mac)
            continue
        if ts < _ms(now - LEGACY_PAST):
            stamp = item.get("timestamp")
            _reject(rejections, f"timestamp {stamp!r} is more than 3 years old", 1, mac)
            continue
        for key, raw_value in item.items():
            if key == "timestamp":
                continue
            try:
                value = reading_value(raw_value)
            except ValueError:
                _reject(rejections, f"{key}={raw_value!r} is not a number", 1, mac)
                continue
            if value is not None:
                entries.append(SensorValue(key, key, value, ts))
    # The same resolution as every other way in (sensor keys of the kit, parents refused).
    readings, refused = await core.sensor_readings(device.id, device.type_id, entries)
    for refusal in refused:
        _reject(rejections, f"{refusal.entry.where}: {refusal.message}", 1, mac)
    if readings:
        # The MAC address is the only credential legacy firmware has (as on the live service):
        # the device it names has been found, so the platform stores on its behalf.
        await core.telemetry.ingest(SYSTEM, device.key, readings)


# One route per method: a route of several methods gives each the same OpenAPI operation id.
@router.get("/add", responses=openapi.CLOCK_RESPONSE)
@router.post("/add", responses=openapi.CLOCK_RESPONSE)
@router.put("/add", responses=openapi.CLOCK_RESPONSE)
@router.patch("/add", responses=openapi.CLOCK_RESPONSE)
async def legacy_add(request: Request, core: CoreDep, state: StateDep) -> Response:
    """SCK 1.x firmware: readings in headers; the answer is the clock, whatever happens."""
    now = datetime.now(UTC)
    try:
        await _store_legacy(request, core, now, state.legacy_rejections)
    except ThingportError as error:
        mac = request.headers.get("x-smartcitizenmacaddr", "")
        _reject(state.legacy_rejections, error.message, 1, mac)
    return _clock(now)


@router.get("/datetime", responses=openapi.CLOCK_RESPONSE)
@router.post("/datetime", responses=openapi.CLOCK_RESPONSE)
@router.put("/datetime", responses=openapi.CLOCK_RESPONSE)
@router.patch("/datetime", responses=openapi.CLOCK_RESPONSE)
async def current_datetime() -> Response:
    return _clock(datetime.now(UTC))
