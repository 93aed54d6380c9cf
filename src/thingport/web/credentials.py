"""Reading credentials off a request, for every dialect. Which schemes a dialect accepts and how
it words a refusal is the dialect's choice; checking them is the accounts service's job."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from thingport.core.accounts.schemas import Principal
from thingport.platform import Core


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class TokenCredentials:
    scheme: str  # "bearer", "token", "query" (a URL parameter), ...
    token: str


Credentials = BasicCredentials | TokenCredentials


def parse_authorization(header: str | None) -> Credentials | None:
    """Basic, Bearer and `Token token=X` / `token X` headers; None when absent or unreadable."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
        return BasicCredentials(username, password)
    if scheme in ("bearer", "token") and value:
        if value.startswith("token="):  # legacy `Token token=X`
            value = value.removeprefix("token=").strip('"')
        return TokenCredentials(scheme, value)
    return None


@dataclass(frozen=True, slots=True)
class UnreadableCredentials:
    """An Authorization header was sent in no scheme `parse_authorization` reads: a client that
    meant to authenticate, which a dialect should refuse rather than treat as anonymous."""

    header: str


def request_credentials(
    request: HTTPConnection, *, query_token: str | None = None
) -> Credentials | UnreadableCredentials | None:
    """What the caller presented: the query parameter named `query_token` when the dialect has
    one (OAuth2's `?access_token=`, which wins over a header), else the Authorization header.
    None: no credentials at all."""
    if query_token is not None:
        token = request.query_params.get(query_token)
        if token:
            return TokenCredentials("query", token)
    header = request.headers.get("authorization")
    credentials = parse_authorization(header)
    if credentials is None and header:
        return UnreadableCredentials(header)
    return credentials


async def authenticate(core: Core, credentials: Credentials) -> Principal:
    """The principal the credentials stand for; Unauthenticated (in the core's words) if none."""
    if isinstance(credentials, BasicCredentials):
        return await core.accounts.authenticate_basic(credentials.username, credentials.password)
    return await core.accounts.authenticate_token(credentials.token)
