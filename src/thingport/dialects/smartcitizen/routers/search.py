"""`GET /v0/search?q=`: users and devices whose names, descriptions or places contain q."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from thingport.core.accounts.schemas import Principal
from thingport.dialects.smartcitizen import openapi, schemas
from thingport.dialects.smartcitizen.auth import MaybePrincipal
from thingport.dialects.smartcitizen.errors import ParameterMissing
from thingport.dialects.smartcitizen.paging import Pages, page_headers
from thingport.dialects.smartcitizen.render import api_url, json_response, place_json
from thingport.kit.listing import Filter, ListQuery, Page, SortKey
from thingport.platform import Core
from thingport.web.deps import CoreDep

router = APIRouter()

# A search reads at most this many matches of each kind; pages are cut from those.
_MAX_MATCHES = 1000


def _contains(field: str, text: str) -> ListQuery:
    return ListQuery(
        filters=(Filter(field, "cont", text),), sort=(SortKey("id"),), limit=_MAX_MATCHES
    )


async def _users(
    core: Core, request: Request, viewer: Principal | None, text: str
) -> list[dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for field in ("username", "city"):
        for user in (await core.accounts.list_users(viewer, _contains(field, text))).items:
            found[user.id] = {
                "id": user.id,
                "type": "User",
                "username": user.username,
                "avatar": user.avatar_url,
                "profile_picture": user.avatar_url or "",
                "url": api_url(request, f"users/{user.id}"),
                **place_json(user.city, user.country_code),
            }
    return [found[key] for key in sorted(found)]


async def _devices(
    core: Core, request: Request, viewer: Principal | None, text: str
) -> list[dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for field in ("name", "description", "city"):
        for device in (await core.devices.search(viewer, _contains(field, text))).items:
            found[device.id] = {
                "id": device.id,
                "type": "Device",
                "name": device.name,
                "description": device.description,
                "owner_id": device.owner_id,
                "owner_username": None,
                "url": api_url(request, f"devices/{device.id}"),
                **place_json(device.city, device.country_code),
            }
    owner_ids = sorted({entry["owner_id"] for entry in found.values()})
    if owner_ids:
        profiles = await core.accounts.list_users(
            viewer, ListQuery(filters=(Filter("id", "in", tuple(owner_ids)),))
        )
        names = {p.id: p.username for p in profiles.items}
        for entry in found.values():
            entry["owner_username"] = names.get(entry["owner_id"])
    return [found[key] for key in sorted(found)]


@router.get("/search", response_model=list[schemas.SearchResult], openapi_extra=openapi.read())
async def search(
    request: Request,
    core: CoreDep,
    viewer: MaybePrincipal,
    pages: Pages,
    q: Annotated[
        str | None, Query(description="text in names, descriptions or cities (required)")
    ] = None,
) -> Response:
    text = (q or "").strip()
    if not text:
        raise ParameterMissing("q")
    results = await _users(core, request, viewer, text) + await _devices(
        core, request, viewer, text
    )
    page: Page[dict[str, Any]] = Page(
        items=list(results[pages.offset : pages.offset + pages.per_page]), total=len(results)
    )
    return json_response(page.items, headers=page_headers(request, page, pages))
