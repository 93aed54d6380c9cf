"""The SmartCitizen API v0 (seed 002), mounted at /smartcitizen.

Every route answers at `/v0/...` and, as on the live service, without the prefix (`/devices`);
a trailing slash is accepted everywhere (the official client asks for `/v0/devices/`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from thingport.dialects.smartcitizen import openapi, schemas
from thingport.dialects.smartcitizen.errors import install_error_handlers
from thingport.dialects.smartcitizen.render import ResponseOptions
from thingport.dialects.smartcitizen.routers import (
    catalog,
    devices,
    readings,
    root,
    search,
    users,
)
from thingport.dialects.smartcitizen.state import install_state
from thingport.kit.errors import ThingportError


class NotAcceptable(ThingportError):
    status = 406
    code = "not_acceptable"


async def check_version(request: Request) -> None:
    """`Accept: application/vnd.smartcitizen; version=0` selects v0, the only version."""
    accept = request.headers.get("accept", "")
    if "vnd.smartcitizen" not in accept:
        return
    for part in accept.split(","):
        if "vnd.smartcitizen" not in part:
            continue
        for parameter in part.split(";")[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "version" and value.strip() != "0":
                raise NotAcceptable(f"API version {value.strip()} is not served; use version=0")


class StripTrailingSlash:
    """`/v0/devices/` is `/v0/devices`, without the redirect a POST would not survive."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root_path: str = scope.get("root_path", "")
            if path.endswith("/") and path.rstrip("/") not in ("", root_path):
                scope = {**scope, "path": path.rstrip("/")}
        await self.app(scope, receive, send)


def _routers() -> list[APIRouter]:
    return [devices.router, search.router, catalog.router, readings.router, users.router]


def build_app() -> FastAPI:
    app = FastAPI(
        title="SmartCitizen API (Thingport)",
        version="v0",
        description="The SmartCitizen API v0, served by Thingport. Authenticate with "
        "`Authorization: Bearer YOUR-TOKEN` (get one from `POST /v0/sessions`), "
        "`?access_token=`, HTTP Basic or `Authorization: Token token=...`.",
        redirect_slashes=False,
    )
    install_error_handlers(app)
    install_state(app)
    app.add_api_route(
        "/v0",
        root.home,
        methods=["GET"],
        dependencies=[Depends(check_version)],
        response_model=schemas.Home,
        openapi_extra=openapi.read(),
    )
    app.add_api_route("/", root.home, methods=["GET"], include_in_schema=False)
    for router in _routers():
        app.include_router(
            router, prefix="/v0", dependencies=[Depends(check_version)], responses=openapi.ERRORS
        )
        app.include_router(router, dependencies=[Depends(check_version)], include_in_schema=False)
    app.add_middleware(ResponseOptions)
    app.add_middleware(StripTrailingSlash)
    return app
