"""The one credential parser every dialect reads requests through."""

from __future__ import annotations

import base64

from starlette.requests import Request

from thingport.web.credentials import (
    BasicCredentials,
    TokenCredentials,
    UnreadableCredentials,
    request_credentials,
)


def _request(query: str = "", authorization: str | None = None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    return Request({"type": "http", "query_string": query.encode(), "headers": headers})


def test_header_schemes() -> None:
    basic = "Basic " + base64.b64encode(b"alice:pw").decode()
    assert request_credentials(_request(authorization=basic)) == BasicCredentials("alice", "pw")
    assert request_credentials(_request(authorization="Bearer t1")) == TokenCredentials(
        "bearer", "t1"
    )
    assert request_credentials(_request(authorization='Token token="t2"')) == TokenCredentials(
        "token", "t2"
    )


def test_nothing_and_unreadable_differ() -> None:
    assert request_credentials(_request()) is None
    assert request_credentials(_request(authorization="Digest x")) == UnreadableCredentials(
        "Digest x"
    )
    # A known scheme whose value cannot be read is unreadable too, not anonymous.
    assert request_credentials(_request(authorization="Basic %%%")) == UnreadableCredentials(
        "Basic %%%"
    )


def test_query_token_only_where_the_dialect_names_one_and_it_wins() -> None:
    request = _request("access_token=q1", authorization="Bearer h1")
    assert request_credentials(request) == TokenCredentials("bearer", "h1")
    assert request_credentials(request, query_token="access_token") == TokenCredentials(
        "query", "q1"
    )
    empty = _request("access_token=", authorization="Bearer h1")
    assert request_credentials(empty, query_token="access_token") == TokenCredentials(
        "bearer", "h1"
    )
