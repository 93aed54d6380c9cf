"""Request parameters the way a Rails API reads them: query string, form body and JSON body
merged into one mapping (body wins), so `curl -d name=x`, `?name=x` and `{"name": "x"}` all work.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Path
from starlette.requests import Request

from thingport.kit.errors import InvalidInput, NotFound


class MalformedBody(InvalidInput):
    code = "bad_request"


async def request_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if not body.strip():
        return params
    if "json" in content_type or (not content_type and body.lstrip()[:1] in (b"{", b"[")):
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise MalformedBody("the request body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise MalformedBody("the request body must be a JSON object")
        params.update(parsed)
    elif "application/x-www-form-urlencoded" in content_type:
        # Parsed here: Starlette's form parser needs python-multipart, which is not installed.
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif "multipart/form-data" in content_type:
        raise MalformedBody("multipart bodies are not read: send JSON, a form or query parameters")
    return params


# A path id is read as text and checked by record_id: FastAPI's int would answer a 422 where the
# live service answers 404 record_not_found.
RecordId = Annotated[str, Path(description="the record's numeric id")]


def record_id(kind: str, ref: str) -> int:
    """The integer id in a URL; anything else names no record (Rails' `find` says the same)."""
    text = ref.strip()
    if not (text.isascii() and text.isdigit()):
        raise NotFound(f"Couldn't find {kind} with 'id'={ref}", field="id")
    return int(text)
