"""A committed request stays a success when a side effect after its commit fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from tests.conftest import Account, basic
from tests.dialects.smartmocha.conftest import API, BASE_STATION
from thingport.bus.events import DeviceCreated, Event, TelemetryReceived
from thingport.bus.memory import MemoryBus
from thingport.core.live.schemas import LiveFilter
from thingport.core.live.subscription import LiveSubscription
from thingport.platform import Platform
from thingport.settings import Settings


class DeviceCreatedFails(MemoryBus):
    """A bus whose backend refuses DeviceCreated events (a networked bus that is down)."""

    async def publish(self, events: Sequence[Event]) -> None:
        if any(isinstance(event, DeviceCreated) for event in events):
            raise ConnectionError("bus backend unreachable")
        await super().publish(events)


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    running = Platform(settings, bus=DeviceCreatedFails())
    try:
        yield running
    finally:
        await running.close()


async def test_failing_publish_after_commit_keeps_the_201(
    client: httpx.AsyncClient,
    platform: Platform,
    alice: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = basic(alice.token)
    with caplog.at_level(logging.ERROR, logger="thingport.storage.engine"):
        created = await client.post(f"{API}/devices", json={"id": BASE_STATION}, auth=auth)
    assert created.status_code == 201, created.text
    assert created.json()["id"] == BASE_STATION
    (record,) = caplog.records
    assert "publish_device_event failed" in record.getMessage()  # the action, by name
    assert record.exc_info is not None
    # Stored, and the bus still serves the next request's events.
    assert (await client.get(f"{API}/device/{BASE_STATION}", auth=auth)).status_code == 200
    async with platform.core() as core:
        live = await core.live.subscribe(
            alice.principal, LiveFilter.of(BASE_STATION, event_types=[TelemetryReceived])
        )
    posted = await client.post(
        f"{API}/device/{BASE_STATION}/data", json={"metric": "m", "value": 1.0}, auth=auth
    )
    assert posted.status_code == 201
    received = await asyncio.wait_for(_first(live), 5)
    await live.close()
    assert isinstance(received, TelemetryReceived)
    assert received.device_key == BASE_STATION


async def _first(live: LiveSubscription) -> Event:
    async for event in live:
        return event
    raise AssertionError("the subscription ended without an event")
