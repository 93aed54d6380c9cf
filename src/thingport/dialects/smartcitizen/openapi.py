"""OpenAPI descriptions of what SmartCitizen routes read outside FastAPI's own parameters.

Ransack filters (`q[name_cont]=air`) have open-ended names, `pretty` and `callback` are applied
by middleware (render.py), and bodies arrive as JSON, a form or the query string (params.py):
FastAPI would validate or parse these differently from the live service, so the routes read them
themselves and declare them here, through `openapi_extra`, for the document only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from thingport.dialects.smartcitizen.schemas import ErrorEnvelope

Parameter = dict[str, Any]

_PREDICATES = "eq, not_eq, cont, start, end, lt, lteq, gt, gteq, in, null, not_null"


def query(name: str, description: str, **schema: Any) -> Parameter:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


PRETTY = query("pretty", "true: indent the JSON answer", type="string", enum=["true", "false"])
CALLBACK = query("callback", "JSON-P: the answer as `/**/callback(...)`, application/javascript")


def ransack(fields: Iterable[str]) -> Parameter:
    names = ", ".join(sorted(fields))
    return {
        "name": "q",
        "in": "query",
        "required": False,
        "style": "deepObject",
        "explode": True,
        "description": (
            "Ransack filters, `q[<field>_<predicate>]=value` (`q[name_cont]=air`, "
            "`q[id_in][]=1&q[id_in][]=2`), and sorting, `q[s]=<field> asc|desc`. "
            f"Fields: {names}. Predicates: {_PREDICATES}. Anything else is a 400."
        ),
        "schema": {"type": "object", "additionalProperties": {"type": "string"}},
    }


def read(*parameters: Parameter) -> dict[str, Any]:
    """`openapi_extra` of a GET: its own parameters plus the response options of every GET."""
    return {"parameters": [*parameters, PRETTY, CALLBACK]}


def listing(fields: Mapping[str, str], *parameters: Parameter) -> dict[str, Any]:
    return read(ransack(fields), *parameters)


def body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` of a write: the parameters as a JSON object or a form (or, as Rails
    merges them, in the query string)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {
        "requestBody": {
            "required": required,
            "description": "JSON or a form; the same names also work as query parameters.",
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in (
        (400, "parameter_missing, bad_request"),
        (401, "unauthorized: credentials that do not check out"),
        (403, "forbidden"),
        (404, "record_not_found (also for an id that is not a number), not_found"),
        (406, "not_acceptable: an API version other than 0 in the Accept header"),
        (422, "unprocessable_entity: `errors` names each field"),
    )
}


# GET /v0/devices/:id/readings parses its parameters itself (routers/readings.py), with the live
# service's messages and 400s; they are described here.
READINGS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "data": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "recorded_at": {"type": "string", "format": "date-time"},
                                    "sensors": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "id": {
                                                    "type": ["integer", "string"],
                                                    "description": "sensor id or key",
                                                },
                                                "value": {"type": ["number", "string", "null"]},
                                            },
                                        },
                                    },
                                },
                            },
                        }
                    },
                }
            }
        },
    }
}

_CLOCK = "UTC:2024,1,2,03,04,05#"
CLOCK_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The server's clock as SCK 1.x firmware reads it (raw text, not JSON)",
        "content": {"application/json": {"schema": {"type": "string", "example": _CLOCK}}},
    }
}
