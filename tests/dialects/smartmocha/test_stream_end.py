"""A stream ends when its device is deleted (the id may come back as another user's device)."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.conftest import Account, basic
from tests.dialects.smartmocha.conftest import API, BASE_STATION, BATTERY, create_device, ingest
from tests.dialects.smartmocha.test_stream import TIMEOUT, http, read_events
from thingport.platform import Platform

__all__ = ["http"]  # the fixture, shared with test_stream


async def test_stream_ends_when_the_device_is_deleted(
    http: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    auth = basic(alice.token)
    await create_device(http, auth, id=BASE_STATION)
    async with asyncio.timeout(TIMEOUT):
        async with http.stream("GET", f"{API}/device/{BASE_STATION}/stream", auth=auth) as stream:
            lines = stream.aiter_lines()
            await ingest(http, auth, BASE_STATION, [{"metric": BATTERY, "value": 1.0, "ts": 1}])
            (event,) = await read_events(lines, 1)
            async with platform.core() as core:
                await core.delete_device(alice.principal, BASE_STATION)
            # The server closes the response: the rest of the body is at most separators.
            rest = [line async for line in lines]
    assert json.loads(event.removeprefix("data: "))["data"] == [[1000, 1.0]]
    assert all(line == "" or line.startswith(":") for line in rest)
