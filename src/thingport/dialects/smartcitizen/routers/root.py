"""`GET /v0`: the endpoint categories the API serves, as absolute URLs."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from thingport.dialects.smartcitizen.render import api_url, json_response

_CATEGORIES = (
    ("current_user_url", "me"),
    ("devices_url", "devices"),
    ("world_map_url", "devices/world_map"),
    ("kits_url", "kits"),
    ("sensors_url", "sensors"),
    ("measurements_url", "measurements"),
    ("users_url", "users"),
    ("search_url", "search?q={query}"),
    ("password_resets_url", "password_resets"),
    ("sessions_url", "sessions"),
)


async def home(request: Request) -> Response:
    body: dict[str, str] = {
        "notice": "SmartCitizen API v0, served by Thingport.",
        "api_documentation_url": api_url(request).removesuffix("v0/") + "docs",
    }
    body.update({name: api_url(request, path) for name, path in _CATEGORIES})
    return json_response(body, headers={"Cache-Control": "public, max-age=300"})
