"""JSON as SmartCitizen writes it, and the two response options every GET accepts.

Times are ISO 8601 in UTC without fractions (`2015-02-02T15:59:48Z`, as the seed's schema section
says and the live service sends). `?pretty=true` indents the body; `?callback=fn` wraps it as
JSON-P (`/**/fn({...})`, `application/javascript`), with the callback name checked so that it
cannot smuggle script into the page that loads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qs

import orjson
import pycountry
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thingport.kit.timeparse import format_iso

# The same rule as Rack::JSONP: an identifier, optionally dotted (`jQuery.cb_1`).
_CALLBACK = re.compile(r"[a-zA-Z_$](?:\.?[\w$])*")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ms: int | None) -> str | None:
    return None if ms is None else format_iso(ms) + "Z"


# What the live service shows in place of a value only the owner may see.
FILTERED = "[FILTERED]"


def country_name(code: str | None) -> str | None:
    if not code:
        return None
    country = pycountry.countries.get(alpha_2=code.upper())
    return country.name if country is not None else None


def place_json(city: str | None, country_code: str | None) -> dict[str, str | None]:
    """`{city, country_code, country}` as users, owners and search results show a place."""
    code = country_code.upper() if country_code else None
    return {"city": city, "country_code": code, "country": country_name(code)}


def api_url(request: Request, path: str = "") -> str:
    """Absolute URL of `/v0/<path>` on this server, behind whatever prefix the API is mounted."""
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{root}/v0/{path}"


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(data: object, *, pretty: bool = False) -> bytes:
    option = orjson.OPT_INDENT_2 if pretty else 0
    return orjson.dumps(data, default=_default, option=option | orjson.OPT_NON_STR_KEYS)


def json_response(
    data: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        dumps(data),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json; charset=utf-8",
    )


class ResponseOptions:
    """ASGI middleware applying `pretty` and `callback` to JSON answers of GET requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        callback = (query.get("callback") or [""])[-1]
        pretty = (query.get("pretty") or [""])[-1].lower() in ("true", "1", "yes")
        if not callback and not pretty:
            await self.app(scope, receive, send)
            return
        if callback and not _CALLBACK.fullmatch(callback):
            response = Response("Bad Request", status_code=400, media_type="text/plain")
            await response(scope, receive, send)
            return
        await self._rewrite(scope, receive, send, callback=callback, pretty=pretty)

    async def _rewrite(
        self, scope: Scope, receive: Receive, send: Send, *, callback: str, pretty: bool
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            await self._send_rewritten(start, b"".join(chunks), send, callback, pretty)

        await self.app(scope, receive, capture)

    @staticmethod
    async def _send_rewritten(
        start: Message, body: bytes, send: Send, callback: str, pretty: bool
    ) -> None:
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if b"application/json" in content_type and body:
            if pretty:
                body = dumps(orjson.loads(body), pretty=True)
            if callback:
                # U+2028/2029 are valid in JSON but end a line in JavaScript.
                text = body.decode().replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
                body = f"/**/{callback}({text})".encode()
                headers = [
                    (k, b"application/javascript; charset=utf-8")
                    if k.lower() == b"content-type"
                    else (k, v)
                    for k, v in headers
                ]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
