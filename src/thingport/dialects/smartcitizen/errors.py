"""SmartCitizen's error envelope, and the handlers that render every failure in it.

    {"id": "record_not_found", "message": "Couldn't find Device with 'id'=100",
     "url": "", "errors": ""}

The ids and messages follow the live service (smartcitizen-api `app/lib/error_handlers.rb`):
a missing record is `record_not_found`, an unknown endpoint `not_found`. A bad search filter also
carries `"status": 400`, which is the body the live service sends for it (a superset of both).

The core's errors carry no wording of this API: `not_found_text` and `problem_text` turn what
they say (which entity, which field, which problem) into the texts Rails sends.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from thingport.core.accounts.validation import RULE_COUNTRY_CODE, RULE_USERNAME, RULE_WEB_URL
from thingport.dialects.smartcitizen.render import json_response
from thingport.kit.errors import (
    Conflict,
    Forbidden,
    InvalidFields,
    InvalidInput,
    NotFound,
    Problem,
    ThingportError,
    Unauthenticated,
)

log = logging.getLogger(__name__)

AUTH_DOCS_URL = "https://developer.smartcitizen.me/#authentication"

# Core entity -> the Rails model the live service names in "Couldn't find ...".
_MODELS = {
    "user": "User",
    "device": "Device",
    "sensor": "Sensor",
    "measurement": "Measurement",
    "device_type": "Kit",
}
# The live service's texts for the values the core's rules refuse (others: "is invalid").
_INVALID_TEXTS = {
    RULE_USERNAME: "is invalid (letters, digits, '.', '_' and '-' only)",
    RULE_COUNTRY_CODE: "is not a two-letter country code",
    RULE_WEB_URL: "is invalid (an http or https URL)",
}


def not_found_text(error: NotFound) -> str:
    """Rails' words for a record `find` did not find: by id, by friendly id (a username), or
    by something else (a login, a reset token), which it does not repeat."""
    if error.entity is None:
        return error.message
    if error.by == "name":
        return f'can\'t find record with friendly id: "{error.key}"'
    model = _MODELS.get(error.entity, error.entity.replace("_", " ").title().replace(" ", ""))
    if error.by == "id" and error.key is not None:
        return f"Couldn't find {model} with 'id'={error.key}"
    return f"Couldn't find {model}"


def problem_text(problem: Problem) -> str:
    """A Rails validation message (`errors.full_messages` without the attribute name)."""
    if problem.code == "blank":
        return "can't be blank"
    if problem.code == "too_short":
        return f"is too short (minimum is {problem.minimum} characters)"
    if problem.code == "too_long":
        return f"is too long (maximum is {problem.maximum} characters)"
    if problem.code == "taken":
        # Raised on username when the unique index refused the username or the e-mail.
        if problem.concurrent:
            return "or email has just been taken by another account"
        return "has already been taken"
    return _INVALID_TEXTS.get(problem.rule or "", "is invalid")


def field_errors(problems: dict[str, list[Problem]]) -> dict[str, list[str]]:
    """The `errors` of a 422: each field's problems as Rails words them."""
    return {name: [problem_text(p) for p in found] for name, found in problems.items()}


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
        return 404, envelope("record_not_found", not_found_text(error))
    if isinstance(error, Conflict):
        # Rails reports a taken username or e-mail as a validation error.
        field = error.field or "base"
        return 422, {
            "id": "unprocessable_entity",
            "message": "Unprocessable Entity",
            "errors": {field: [error.message]},
            "url": "",
        }
    if isinstance(error, InvalidFields):
        return 422, {
            "id": "unprocessable_entity",
            "message": "Unprocessable Entity",
            "errors": field_errors(error.problems),
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
