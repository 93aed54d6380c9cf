"""Devices: list (ransack filters, `near`), get, create, update, delete, and the world map."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from thingport.core.accounts.schemas import Principal
from thingport.core.devices.schemas import DeviceCreate, DeviceOut, DeviceUpdate
from thingport.dialects.smartcitizen import openapi, schemas
from thingport.dialects.smartcitizen.auth import CallerPrincipal, MaybePrincipal
from thingport.dialects.smartcitizen.device_views import render_devices, world_map_entries
from thingport.dialects.smartcitizen.errors import BadParameter, ParameterMissing, Unprocessable
from thingport.dialects.smartcitizen.paging import Pages, list_query, page_headers
from thingport.dialects.smartcitizen.params import RecordId, record_id, request_params
from thingport.dialects.smartcitizen.render import json_response
from thingport.dialects.smartcitizen.state import StateDep
from thingport.kit.errors import InvalidInput, ThingportError
from thingport.platform import Core
from thingport.web.deps import CoreDep

router = APIRouter()

# SmartCitizen field -> core field, for q[...] filters and q[s] sorting.
DEVICE_FIELDS = {
    "id": "id",
    "uuid": "uuid",
    "name": "name",
    "description": "description",
    "owner_id": "owner_id",
    "owner_username": "owner_username",
    "kit_id": "type_id",
    "created_at": "created_at",
    "added_at": "created_at",
    "updated_at": "updated_at",
    "last_reading_at": "last_seen_at",
    "latitude": "latitude",
    "longitude": "longitude",
    "city": "city",
    "country_code": "country_code",
    "exposure": "exposure",
}

_UPDATE = openapi.body(schemas.DeviceParams, required=False)
_NEAR = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*")


def _near(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    match = _NEAR.fullmatch(text)
    if not match or abs(float(match[1])) > 90 or abs(float(match[2])) > 180:
        raise BadParameter("Malformed near parameter", field="near")
    return float(match[1]), float(match[2])


async def _device(core: Core, viewer: Principal | None, text: str) -> DeviceOut:
    return await core.devices.get_by_id(viewer, record_id("Device", text))


@router.get(
    "/devices", response_model=list[schemas.Device], openapi_extra=openapi.listing(DEVICE_FIELDS)
)
async def list_devices(
    request: Request,
    core: CoreDep,
    viewer: MaybePrincipal,
    pages: Pages,
    near: Annotated[
        str | None, Query(description="`lat,lng`: the nearest devices first", examples=["41.4,2.1"])
    ] = None,
) -> Response:
    query = list_query(request, DEVICE_FIELDS, pages, near=_near(near))
    page = await core.devices.search(viewer, query)
    body = await render_devices(core, viewer, page.items)
    return json_response(body, headers=page_headers(request, page, pages))


@router.get(
    "/devices/world_map", response_model=list[schemas.WorldMapDevice], openapi_extra=openapi.read()
)
async def world_map(core: CoreDep, state: StateDep) -> Response:
    """Public devices with a location and readings; cached for a minute, unpaginated, the
    same for every caller (the seed: filter it on the client side)."""
    return json_response(await state.world_map.get(lambda: world_map_entries(core)))


@router.get("/devices/{device_id}", response_model=schemas.Device, openapi_extra=openapi.read())
async def get_device(device_id: RecordId, core: CoreDep, viewer: MaybePrincipal) -> Response:
    device = await _device(core, viewer, device_id)
    return json_response((await render_devices(core, viewer, [device]))[0])


# SmartCitizen parameter -> core field, for create and update.
_PLAIN_PARAMS = {
    "name": "name",
    "description": "description",
    "mac_address": "mac_address",
    "kit_id": "type_id",
    "exposure": "exposure",
    "latitude": "latitude",
    "longitude": "longitude",
    "elevation": "elevation",
    "city": "city",
    "country_code": "country_code",
    "precise_location": "precise_location",
    "notify_low_battery": "notify_low_battery",
    "notify_stopped_publishing": "notify_stopped_publishing",
    "enable_forwarding": "forwarding_enabled",
}


def _device_fields(params: dict[str, Any]) -> dict[str, Any]:
    fields = {core: params[sc] for sc, core in _PLAIN_PARAMS.items() if sc in params}
    for name in ("mac_address", "kit_id", "latitude", "longitude", "elevation"):
        # Rails treats an empty form value as nil.
        if params.get(name) == "":
            fields[_PLAIN_PARAMS[name]] = None
    if "exposure" in fields and fields["exposure"] not in (None, "indoor", "outdoor"):
        raise Unprocessable({"exposure": ["must be indoor or outdoor"]})
    if "is_private" in params:
        private = params["is_private"]
        fields["public"] = not (
            private is True or str(private).lower() in ("true", "1", "t", "yes")
        )
    if "user_tags" in params:
        tags = params["user_tags"]
        fields["tags"] = tags if isinstance(tags, list) else str(tags).split(",")
    return fields


def _unprocessable(error: ValidationError) -> Unprocessable:
    errors: dict[str, list[str]] = {}
    by_core = {core: sc for sc, core in _PLAIN_PARAMS.items()} | {
        "public": "is_private",
        "tags": "user_tags",
    }
    for item in error.errors(include_url=False):
        name = str(item["loc"][0]) if item["loc"] else "base"
        errors.setdefault(by_core.get(name, name), []).append(str(item["msg"]))
    return Unprocessable(errors)


def _as_unprocessable(error: ThingportError) -> ThingportError:
    """A field the core refused is a 422 naming that field, as Rails reports validation."""
    if isinstance(error, InvalidInput) and type(error) is InvalidInput:
        by_core = {core: sc for sc, core in _PLAIN_PARAMS.items()}
        field = by_core.get(error.field or "", error.field or "base")
        return Unprocessable({field: [error.message]})
    return error


@router.post(
    "/devices",
    status_code=201,
    response_model=schemas.Device,
    response_description="The device, with its device_token shown this once",
    openapi_extra=openapi.body(schemas.DeviceParams),
)
async def create_device(request: Request, core: CoreDep, caller: CallerPrincipal) -> Response:
    params = await request_params(request)
    if not str(params.get("name") or "").strip():
        raise ParameterMissing("name")
    fields = _device_fields(params)
    fields.setdefault("public", True)  # SmartCitizen data is open unless marked private
    try:
        data = DeviceCreate.model_validate(fields)
        created = await core.devices.create(caller, data)
        token = await core.devices.issue_token(caller, created.key)
    except ValidationError as error:
        raise _unprocessable(error) from None
    except ThingportError as error:
        raise _as_unprocessable(error) from None
    device = await core.devices.get_by_id(caller, created.id)
    body = (await render_devices(core, caller, [device]))[0]
    body["device_token"] = token  # shown this once; only its hash is kept
    return json_response(body, 201)


# One route per method: a route of two methods gives both the same OpenAPI operation id.
@router.put("/devices/{device_id}", response_model=schemas.Device, openapi_extra=_UPDATE)
@router.patch("/devices/{device_id}", response_model=schemas.Device, openapi_extra=_UPDATE)
async def update_device(
    device_id: RecordId, request: Request, core: CoreDep, caller: CallerPrincipal
) -> Response:
    device = await _device(core, caller, device_id)
    params = await request_params(request)
    if "name" in params and not str(params["name"] or "").strip():
        raise Unprocessable({"name": ["can't be blank"]})
    try:
        data = DeviceUpdate.model_validate(_device_fields(params))
        await core.devices.update(caller, device.key, data)
    except ValidationError as error:
        raise _unprocessable(error) from None
    except ThingportError as error:
        raise _as_unprocessable(error) from None
    updated = await core.devices.get_by_id(caller, device.id)
    return json_response((await render_devices(core, caller, [updated]))[0])


@router.delete("/devices/{device_id}", response_model=schemas.Message)
async def delete_device(device_id: RecordId, core: CoreDep, caller: CallerPrincipal) -> Response:
    device = await _device(core, caller, device_id)
    await core.delete_device(caller, device.key)
    return json_response({"message": "OK"})
