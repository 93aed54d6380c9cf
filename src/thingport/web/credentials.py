"""Reading credentials off a request. Which schemes a dialect accepts is the dialect's choice;
checking them is the accounts service's job."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class TokenCredentials:
    scheme: str  # "bearer", "token", ...
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
