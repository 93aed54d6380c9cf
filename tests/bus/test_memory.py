from __future__ import annotations

import asyncio

import pytest

from thingport.bus.events import TELEMETRY, Event
from thingport.bus.memory import MemoryBus
from thingport.bus.registry import build_bus


async def _drain(subscription: object, count: int) -> list[Event]:
    received: list[Event] = []

    async def collect() -> None:
        async for event in subscription:  # type: ignore[attr-defined]
            received.append(event)
            if len(received) == count:
                return

    await asyncio.wait_for(collect(), 5)
    return received


async def test_subscribers_get_matching_events_in_order() -> None:
    bus = MemoryBus()
    device_1 = bus.subscribe(device_ids=[1])
    telemetry = bus.subscribe(kinds=[TELEMETRY])
    events = [
        Event(TELEMETRY, 1, {"n": 0}),
        Event("device.updated", 1, {"n": 1}),
        Event(TELEMETRY, 2, {"n": 2}),
        Event(TELEMETRY, 1, {"n": 3}),
    ]
    await bus.publish(events)
    assert [e.payload["n"] for e in await _drain(device_1, 3)] == [0, 1, 3]
    assert [e.payload["n"] for e in await _drain(telemetry, 3)] == [0, 2, 3]


async def test_closed_subscription_ends_iteration_and_is_removed() -> None:
    bus = MemoryBus()
    subscription = bus.subscribe()
    assert bus.subscriber_count == 1
    await subscription.close()
    assert bus.subscriber_count == 0
    assert await _drain(subscription, 1) == []


async def test_slow_subscriber_is_cut_off_not_blocking() -> None:
    bus = MemoryBus(max_queued=3)
    slow = bus.subscribe()
    fast = bus.subscribe(device_ids=[9])
    await bus.publish([Event(TELEMETRY, 1, {"n": n}) for n in range(10)])
    assert slow.closed
    assert not fast.closed
    assert bus.subscriber_count == 1
    # the slow one sees the end of its stream (whatever it still had queued, then stop)
    received = []
    async for event in slow:
        received.append(event)
    assert len(received) < 10


def test_registry_rejects_unknown_backend() -> None:
    assert isinstance(build_bus("memory://"), MemoryBus)
    with pytest.raises(ValueError, match="memory://"):
        build_bus("carrier-pigeon://loft")
