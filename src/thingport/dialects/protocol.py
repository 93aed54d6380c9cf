"""What a dialect declares so that the platform can mount it, list it in `/` and announce it.

A dialect is a FastAPI sub-app of its own (its own OpenAPI document, error envelope and docs)
mounted under `prefix`. The platform reaches it only through this protocol; registry.py lists the
dialects that are served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import FastAPI


class Dialect(Protocol):
    @property
    def name(self) -> str:
        """The vendor's name as people know it ("SmartCitizen")."""
        ...

    @property
    def prefix(self) -> str:
        """Where the sub-app is mounted ("/smartcitizen"): no trailing slash."""
        ...

    @property
    def base_path(self) -> str:
        """The URL path a client of the vendor's cloud is pointed at ("/smartcitizen/v0")."""
        ...

    @property
    def docs_path(self) -> str:
        """The interactive documentation of the sub-app's OpenAPI document."""
        ...

    def build(self) -> FastAPI:
        """A new sub-app: called once per platform app, so nothing in it outlives that app."""
        ...


@dataclass(frozen=True, slots=True)
class DialectSpec:
    """The plain way to satisfy `Dialect`: a dialect's `dialect.py` declares one of these."""

    name: str
    prefix: str
    version_path: str  # under the prefix: "/v0"
    builder: Callable[[], FastAPI]
    docs: str = "/docs"  # FastAPI's default docs_url of the sub-app

    @property
    def base_path(self) -> str:
        return self.prefix + self.version_path

    @property
    def docs_path(self) -> str:
        return self.prefix + self.docs

    def build(self) -> FastAPI:
        return self.builder()
