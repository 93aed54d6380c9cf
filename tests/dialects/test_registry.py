"""The registry: every dialect mounts where it says, and the index and banner list it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from thingport.dialects.protocol import DialectSpec
from thingport.dialects.registry import DIALECTS, build_dialects


def test_each_build_is_a_new_sub_app() -> None:
    first, second = build_dialects(), build_dialects()
    assert [m.name for m in first] == [d.name for d in DIALECTS]
    for a, b in zip(first, second, strict=True):
        assert a.app is not b.app  # per-app state cannot leak between platform apps


@pytest.mark.parametrize(
    ("prefix", "version"),
    [("/smartmocha", "/v0"), ("nolead", "/v0"), ("/trailing/", "/v0")],
)
def test_a_prefix_that_is_taken_or_malformed_is_refused(prefix: str, version: str) -> None:
    clash = DialectSpec(name="Clash", prefix=prefix, version_path=version, builder=FastAPI)
    with pytest.raises(ValueError, match="Clash"):
        build_dialects((*DIALECTS, clash))


async def test_index_lists_every_dialect_with_reachable_docs(client: httpx.AsyncClient) -> None:
    index = (await client.get("/")).json()
    assert index["apis"] == [
        {"name": d.name, "url": d.base_path, "docs": d.docs_path} for d in DIALECTS
    ]
    for dialect in DIALECTS:
        docs = await client.get(dialect.docs_path)
        assert docs.status_code == 200, dialect.name
        openapi = await client.get(f"{dialect.prefix}/openapi.json")
        assert openapi.status_code == 200, dialect.name
        assert openapi.json()["paths"], dialect.name
