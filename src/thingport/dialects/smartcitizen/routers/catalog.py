"""The catalogue: `/v0/sensors`, `/v0/measurements` and `/v0/kits`, lists and single records.

Lists take ransack filters and pages like every SmartCitizen list (paging.py) and are sorted by
id unless `q[s]` says otherwise. Kits were removed from the live API in 2023 (folded into a
device's `hardware`); the seed documents them and older clients read them, so they stay here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from starlette.responses import Response

from thingport.dialects.smartcitizen import openapi, schemas
from thingport.dialects.smartcitizen.catalog_json import kit_json, measurement_json, sensor_json
from thingport.dialects.smartcitizen.paging import PageRequest, Pages, list_query, page_headers
from thingport.dialects.smartcitizen.params import RecordId, record_id
from thingport.dialects.smartcitizen.render import json_response
from thingport.kit.listing import Page, SortKey
from thingport.web.deps import CoreDep

router = APIRouter()

T = TypeVar("T")

# SmartCitizen field -> core field; the names happen to be the same.
SENSOR_FIELDS = {
    name: name
    for name in (
        "id",
        "uuid",
        "parent_id",
        "name",
        "description",
        "unit",
        "measurement_id",
        "created_at",
        "updated_at",
    )
}
MEASUREMENT_FIELDS = {
    name: name for name in ("id", "uuid", "name", "description", "created_at", "updated_at")
}
KIT_FIELDS = {
    name: name for name in ("id", "uuid", "slug", "name", "description", "created_at", "updated_at")
}
_BY_ID = (SortKey("id"),)


def _list_response(
    request: Request, page: Page[T], pages: PageRequest, render: Callable[[T], dict[str, Any]]
) -> Response:
    counted: Page[object] = Page(list(page.items), page.total, page.query)
    return json_response(
        [render(item) for item in page.items], headers=page_headers(request, counted, pages)
    )


@router.get(
    "/sensors", response_model=list[schemas.Sensor], openapi_extra=openapi.listing(SENSOR_FIELDS)
)
async def list_sensors(request: Request, core: CoreDep, pages: Pages) -> Response:
    query = list_query(request, SENSOR_FIELDS, pages, default_sort=_BY_ID)
    return _list_response(request, await core.catalog.list_sensors(query), pages, sensor_json)


@router.get("/sensors/{ref}", response_model=schemas.Sensor, openapi_extra=openapi.read())
async def get_sensor(ref: RecordId, core: CoreDep) -> Response:
    return json_response(sensor_json(await core.catalog.get_sensor(record_id("Sensor", ref))))


@router.get(
    "/measurements",
    response_model=list[schemas.Measurement],
    openapi_extra=openapi.listing(MEASUREMENT_FIELDS),
)
async def list_measurements(request: Request, core: CoreDep, pages: Pages) -> Response:
    query = list_query(request, MEASUREMENT_FIELDS, pages, default_sort=_BY_ID)
    page = await core.catalog.list_measurements(query)
    return _list_response(request, page, pages, measurement_json)


@router.get("/measurements/{ref}", response_model=schemas.Measurement, openapi_extra=openapi.read())
async def get_measurement(ref: RecordId, core: CoreDep) -> Response:
    measurement = await core.catalog.get_measurement(record_id("Measurement", ref))
    return json_response(measurement_json(measurement))


@router.get("/kits", response_model=list[schemas.Kit], openapi_extra=openapi.listing(KIT_FIELDS))
async def list_kits(request: Request, core: CoreDep, pages: Pages) -> Response:
    query = list_query(request, KIT_FIELDS, pages, default_sort=_BY_ID)
    return _list_response(request, await core.catalog.list_kits(query), pages, kit_json)


@router.get("/kits/{ref}", response_model=schemas.Kit, openapi_extra=openapi.read())
async def get_kit(ref: RecordId, core: CoreDep) -> Response:
    return json_response(kit_json(await core.catalog.get_kit(record_id("Kit", ref))))
