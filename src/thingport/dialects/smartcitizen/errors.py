"""SmartCitizen's error envelope, and the handlers that render every failure in it.

    {"id": "record_not_found", "message": "Couldn't find Device with 'id'=100",
     "url": "", "errors": ""}

The ids and messages follow the live service (smartcitizen-api `app/lib/error_handlers.rb`):
a missing record is `record_not_found`, an unknown endpoint `not_found`. A bad search filter also
carries `"status": 400`, which is the body the live service sends for it (a superset of both).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from thingport.dialects.smartcitizen.render import json_response
from thingport.kit.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ThingportError,
    Unauthenticated,
)

log = logging.getLogger(__name__)

AUTH_DOCS_URL = "https://developer.smartcitizen.me/#authentication"


class ParameterMissing(InvalidInput):
    """A required parameter is absent: `param is missing or the value is empty: a and b`."""

    code = "parameter_missing"

    def __init__(self, *names: str) -> None:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        super().__init__(f"param is missing or the value is empty: {listed}", field=names[0])


class Unprocessable(ThingportError):
    """Validation failed; `errors` maps each field to its messages, as Rails renders them."""

    status = 422
    code = "unprocessable_entity"

    def __init__(self, errors: dict[str, list[str]] | str, message: str = "Unprocessable Entity"):
        super().__init__(message)
        self.errors = errors


class BadSearch(InvalidInput):
    """An unknown filter field or predicate (`Invalid search term name_foo`)."""

    code = "bad_request"


def envelope(
    error_id: str, message: str, *, url: str | None = "", errors: Any = ""
) -> dict[str, Any]:
    return {"id": error_id, "message": message, "url": url, "errors": errors}


def _body_for(error: ThingportError) -> tuple[int, dict[str, Any]]:
    if isinstance(error, Unprocessable):
        return 422, {
            "id": "unprocessable_entity",
            "message": error.message,
            "errors": error.errors,
            "url": "",
        }
    if isinstance(error, BadSearch):
        return 400, {**envelope("bad_request", error.message), "status": 400}
    if isinstance(error, ParameterMissing):
        return 400, envelope("parameter_missing", error.message)
    if isinstance(error, Unauthenticated):
        return 401, envelope("unauthorized", error.message, url=AUTH_DOCS_URL)
    if isinstance(error, Forbidden):
        return 403, envelope("forbidden", error.message)
    if isinstance(error, NotFound):
        return 404, envelope("record_not_found", error.message)
    if isinstance(error, Conflict):
        # Rails reports a taken username or e-mail as a validation error.
        field = error.field or "base"
        return 422, {
            "id": "unprocessable_entity",
            "message": "Unprocessable Entity",
            "errors": {field: [error.message]},
            "url": "",
        }
    if isinstance(error, InvalidInput):
        return 400, envelope("bad_request", error.message)
    return error.status, envelope(error.code, error.message)


def _validation_errors(error: RequestValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for item in error.errors():
        location = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")]
        name = ".".join(location) or "base"
        fields.setdefault(name, []).append(str(item.get("msg", "is invalid")))
    return fields


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ThingportError)
        status, body = _body_for(error)
        headers = (
            {"WWW-Authenticate": 'Basic realm="Application", Token realm="Application"'}
            if status == 401
            else None
        )
        return json_response(body, status, headers)

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        if first.get("type") == "json_invalid":
            return json_response(envelope("bad_request", "the request body is not valid JSON"), 400)
        if first.get("type") == "missing":
            names = [str(e["loc"][-1]) for e in error.errors() if e.get("type") == "missing"]
            return json_response(_body_for(ParameterMissing(*names))[1], 400)
        return json_response(
            {
                "id": "unprocessable_entity",
                "message": "Unprocessable Entity",
                "errors": _validation_errors(error),
                "url": "",
            },
            422,
        )

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if error.status_code == 404:
            return json_response(
                envelope("not_found", "Endpoint not found", url=None, errors=None), 404
            )
        if error.status_code == 405:
            return json_response(envelope("method_not_allowed", str(error.detail)), 405)
        return json_response(envelope("bad_request", str(error.detail)), error.status_code)

    async def unexpected_error(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return json_response(
            envelope("internal_server_error", "Internal Server Error", url=None, errors=None), 500
        )

    app.add_exception_handler(ThingportError, domain_error)
    app.add_exception_handler(Unauthenticated, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


class BadParameter(BadSearch):
    """A query parameter the live service rejects with `{"message": ..., "status": 400}`, as it
    does for a readings date it cannot parse (rendered like BadSearch, a superset of that)."""
