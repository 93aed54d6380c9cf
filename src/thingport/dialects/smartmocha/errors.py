"""Smart Mocha's error envelope, and the handlers that render every failure in it.

{"object": "error", "status": 400, "code": "invalid_input",
 "message": "rollup is required, e.g. rollup=1h-avg", "param": "rollup",
 "url": "/v0/device/D0A0D862CC766B7A/data"}
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from thingport.kit.errors import ThingportError, Unauthenticated

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    request: Request, status: int, code: str, message: str, param: str | None = None
) -> JSONResponse:
    body = {
        "object": "error",
        "status": status,
        "code": code,
        "message": message,
        "param": param,
        "url": request.url.path.removeprefix(request.scope.get("root_path", "")),
    }
    headers = {"WWW-Authenticate": 'Basic realm="Smart Mocha"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    param = ".".join(location) or None
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    return (f"{param}: {message}" if param else message), param


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ThingportError)
        return error_response(request, error.status, error.code, error.message, error.field)

    async def validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        message, param = _validation_message(error)
        return error_response(request, 400, "invalid_input", message, param)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        code = _HTTP_CODES.get(error.status_code, "error")
        return error_response(request, error.status_code, code, str(error.detail))

    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal_error", "internal server error")

    app.add_exception_handler(ThingportError, domain_error)
    app.add_exception_handler(Unauthenticated, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
