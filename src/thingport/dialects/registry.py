"""The dialects Thingport serves, in the order the banner and `/` list them.

A new dialect declares itself in its package's `dialect.py`,

    WHISKER = DialectSpec(name="Whisker Labs", prefix="/whisker", version_path="/v1",
                          builder=build_app)

where `build_app()` returns a new FastAPI sub-app (its error handlers, its routers, any state
it keeps on that instance), and adds one line to DIALECTS below. app.py mounts what this module
builds; the banner and the index read it; nothing else lists dialects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import FastAPI

from thingport.dialects.protocol import Dialect
from thingport.dialects.smartcitizen.dialect import SMARTCITIZEN
from thingport.dialects.smartmocha.dialect import SMART_MOCHA

DIALECTS: tuple[Dialect, ...] = (
    SMART_MOCHA,
    SMARTCITIZEN,
)


@dataclass(frozen=True, slots=True)
class MountedDialect:
    """A dialect and the sub-app built for one platform app."""

    dialect: Dialect
    app: FastAPI

    @property
    def name(self) -> str:
        return self.dialect.name

    @property
    def prefix(self) -> str:
        return self.dialect.prefix

    @property
    def base_path(self) -> str:
        return self.dialect.base_path

    @property
    def docs_path(self) -> str:
        return self.dialect.docs_path


def build_dialects(dialects: Iterable[Dialect] = DIALECTS) -> tuple[MountedDialect, ...]:
    """One new sub-app per dialect; refuses two dialects on one prefix (the second would never
    see a request) and a base path outside its own prefix."""
    mounted: list[MountedDialect] = []
    prefixes: set[str] = set()
    for dialect in dialects:
        prefix = dialect.prefix
        if not prefix.startswith("/") or prefix.endswith("/") or prefix in prefixes:
            raise ValueError(f"dialect {dialect.name}: prefix {prefix!r} is invalid or taken")
        if not dialect.base_path.startswith(prefix):
            raise ValueError(f"dialect {dialect.name}: {dialect.base_path!r} is not under {prefix}")
        prefixes.add(prefix)
        mounted.append(MountedDialect(dialect, dialect.build()))
    return tuple(mounted)
