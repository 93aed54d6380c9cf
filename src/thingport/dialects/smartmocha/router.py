"""The Smart Mocha API v0 (seed 000), mounted at /smartmocha.

Endpoints of the seed: GET /v0/devices, GET|PUT /v0/device/:id, GET /v0/device/:id/data,
GET /v0/device/:id/stream. Added in the same style, because the seed has no way for a device to
register or send data: POST /v0/devices and POST /v0/device/:id/data. See CONTRACT.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from thingport.bus.events import TelemetryReceived
from thingport.core.accounts.schemas import Principal
from thingport.core.devices.schemas import DeviceCreate as CoreDeviceCreate
from thingport.core.live.schemas import LiveFilter
from thingport.core.live.subscription import LiveSubscription
from thingport.core.telemetry.query import reading_time
from thingport.core.telemetry.schemas import Reading
from thingport.core.telemetry.service import now_ms
from thingport.dialects.smartmocha import mapping, query_params, schemas
from thingport.dialects.smartmocha.errors import install_error_handlers
from thingport.kit.errors import InvalidInput, Unauthenticated
from thingport.platform import Core
from thingport.web.credentials import UnreadableCredentials, authenticate, request_credentials
from thingport.web.deps import CoreDep

router = APIRouter(prefix="/v0")


async def authenticated(request: Request, core: CoreDep) -> Principal:
    """`curl -u TOKEN:` (Basic, token as user name); a Bearer token works as well."""
    credentials = request_credentials(request)
    if credentials is None or isinstance(credentials, UnreadableCredentials):
        raise Unauthenticated("API token required: curl -u your-api-token: ...")
    return await authenticate(core, credentials)


PrincipalDep = Annotated[Principal, Depends(authenticated)]


async def _render_device(core: Core, principal: Principal, key: str) -> schemas.Device:
    device = await core.devices.get(principal, key)
    series = await core.telemetry.series_of_devices([device.id])
    return mapping.device(device, series[device.id])


@router.get("/devices", response_model=schemas.DeviceList)
async def list_devices(core: CoreDep, principal: PrincipalDep) -> schemas.DeviceList:
    devices = await core.devices.list_visible(principal)
    series = await core.telemetry.series_of_devices([d.id for d in devices])
    data = [mapping.device(d, series[d.id]) for d in devices]
    return schemas.DeviceList(count=len(data), data=data)


@router.post("/devices", response_model=schemas.Device, status_code=201)
async def register_device(
    body: schemas.DeviceCreate, core: CoreDep, principal: PrincipalDep
) -> schemas.Device:
    created = await core.devices.create(
        principal,
        CoreDeviceCreate(
            key=body.id,
            name=body.name,
            description=body.description,
            address=body.location,
            type=body.type,
            parent=body.parent,
            firmware_version=body.firmware_version,
            deployed=body.deployed,
        ),
    )
    return mapping.device(created, [])


@router.get("/device/{device_id}", response_model=schemas.Device)
async def get_device(device_id: str, core: CoreDep, principal: PrincipalDep) -> schemas.Device:
    return await _render_device(core, principal, device_id)


@router.put("/device/{device_id}", response_model=schemas.Device)
async def update_device(
    device_id: str, body: schemas.DeviceUpdate, core: CoreDep, principal: PrincipalDep
) -> schemas.Device:
    await core.devices.update(principal, device_id, mapping.device_update(body))
    return await _render_device(core, principal, device_id)


@router.get("/device/{device_id}/data", response_model=schemas.QueryResponse)
async def get_data(
    device_id: str,
    core: CoreDep,
    principal: PrincipalDep,
    rollup: Annotated[str | None, Query(description="e.g. 1h-avg, 10m-max, 1d-dev-zero")] = None,
    start: Annotated[str | None, Query(description="2014-05-01, 1399322129, 1h-ago, ...")] = None,
    end: Annotated[str | None, Query(description="default now")] = None,
    arrays: Annotated[str | None, Query(description="present: data as [[t, v], ...]")] = None,
    metric_id: Annotated[str | None, Query(description="metric ids separated by ;")] = None,
) -> schemas.QueryResponse:
    metric_ids = None
    if metric_id is not None:
        metric_ids = [m.strip() for m in metric_id.split(";") if m.strip()]
        if not metric_ids:
            raise InvalidInput("metric_id lists no metric ids", field="metric_id")
    downsample = query_params.downsample(rollup)
    time_range = query_params.time_range(start, end, now_ms=now_ms())
    result = await core.telemetry.query(
        principal,
        device_id,
        time_range=time_range,
        downsample=downsample,
        series_uuids=metric_ids,
    )
    as_arrays = arrays is not None and arrays.lower() not in ("false", "0", "no")
    # The rollup is echoed as sent (a parsed one has lost the client's units).
    assert rollup is not None  # query_params.downsample refused a missing one
    return mapping.query_response(result, rollup=rollup, arrays=as_arrays)


@router.post(
    "/device/{device_id}/data",
    response_model=schemas.IngestResult,
    status_code=201,
    openapi_extra=schemas.readings_body_schema(),
)
async def post_data(
    device_id: str, request: Request, core: CoreDep, principal: PrincipalDep
) -> schemas.IngestResult:
    """Store one reading or a list of them; a batch is stored whole or not at all."""
    items = _parse_readings(await request.body())
    now = now_ms()
    readings: list[Reading] = []
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - index names the bad reading
            metric = item["metric"]
            readings.append(
                Reading(
                    metric,
                    item["value"],
                    reading_time(item.get("ts"), now_ms=now),
                    metric,
                    item.get("unit"),
                )
            )
    except InvalidInput as error:
        raise InvalidInput(f"{index}.ts: {error.message}", field=f"{index}.ts") from error
    count = await core.telemetry.ingest(principal, device_id, readings)
    return schemas.IngestResult(device=device_id, count=count)


def _parse_readings(body: bytes) -> list[schemas.ReadingIn]:
    """Validate the raw bytes in one pass; a single object is a batch of one."""
    single = body.lstrip()[:1] == b"{"
    try:
        if single:
            return [schemas.READING.validate_json(body)]
        return schemas.READINGS.validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(_request_errors(error, single)) from None


def _request_errors(error: ValidationError, single: bool) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    seen: set[tuple[int | str, ...]] = set()
    for item in error.errors(include_url=False):
        location: tuple[int | str, ...] = ((0,) if single else ()) + tuple(item["loc"])
        if len(location) == 3 and location[1] == "ts":
            # A union member ("0.ts.int") means nothing to a client: name the field, once.
            location = location[:2]
            item["msg"] = "must be an epoch time in s or ms, a date string, or null"
        if location not in seen:
            seen.add(location)
            errors.append({**item, "loc": ("body", *location)})
    return errors


@router.get("/device/{device_id}/stream", response_class=EventSourceResponse)
async def stream(device_id: str, core: CoreDep, principal: PrincipalDep) -> EventSourceResponse:
    """Server-sent events, one `data:` line per point, as points are stored."""
    # Subscribed before answering, so nothing ingested after the client connected is missed.
    subscription = await core.live.subscribe(
        principal, LiveFilter.of(device_id, event_types=[TelemetryReceived])
    )
    return EventSourceResponse(
        _stream_events(subscription),
        sep="\n",
        background=BackgroundTask(subscription.close),
    )


async def _stream_events(subscription: LiveSubscription) -> AsyncIterator[ServerSentEvent]:
    try:
        async for event in subscription:
            if not isinstance(event, TelemetryReceived):
                continue
            names = {series.id: series.name for series in event.series}
            for series_id, ts, value in event.points:
                line = {
                    "device": event.device_key,
                    "data": [[ts, value]],
                    "metric": names[series_id],
                    "type": "data",
                }
                yield ServerSentEvent(data=orjson.dumps(line).decode())
    finally:
        await subscription.close()


def build_app() -> FastAPI:
    app = FastAPI(
        title="Smart Mocha API (Thingport)",
        version="v0",
        description="The Smart Mocha API v0, served by Thingport. Authenticate with "
        "`curl -u YOUR-API-TOKEN: ...`.",
    )
    install_error_handlers(app)
    app.include_router(router)
    return app
