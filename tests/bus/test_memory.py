from __future__ import annotations

import asyncio

import pytest

from thingport.bus.events import DeviceUpdated, Event, SeriesInfo, TelemetryReceived
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


def _telemetry(device_id: int, n: int) -> TelemetryReceived:
    return TelemetryReceived(
        device_id, f"D{device_id}", (SeriesInfo(7, "t", "T", "u"),), [(7, n, 0.0)]
    )


def _n(events: list[Event]) -> list[int]:
    """Which of the events published below these are (their number)."""
    return [e.points[0][1] if isinstance(e, TelemetryReceived) else -1 for e in events]


async def test_subscribers_get_matching_events_in_order() -> None:
    bus = MemoryBus()
    device_1 = bus.subscribe(device_ids=[1])
    telemetry = bus.subscribe(event_types=[TelemetryReceived])
    updates_of_2 = bus.subscribe(device_ids=[2], event_types=[DeviceUpdated])
    events: list[Event] = [
        _telemetry(1, 0),
        DeviceUpdated(1, "D1", ("name",)),
        _telemetry(2, 2),
        DeviceUpdated(2, "D2", ("public",)),
        _telemetry(1, 3),
    ]
    await bus.publish(events)
    assert _n(await _drain(device_1, 3)) == [0, -1, 3]
    assert _n(await _drain(telemetry, 3)) == [0, 2, 3]
    assert await _drain(updates_of_2, 1) == [DeviceUpdated(2, "D2", ("public",))]


async def test_a_subscriber_gets_the_very_event_published() -> None:
    """In process nothing is copied: telemetry points stay the list the ingest wrote."""
    bus = MemoryBus()
    subscription = bus.subscribe()
    event = _telemetry(1, 0)
    await bus.publish([event])
    (received,) = await _drain(subscription, 1)
    assert received is event


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
    await bus.publish([_telemetry(1, n) for n in range(10)])
    assert slow.closed
    assert not fast.closed
    assert bus.subscriber_count == 1
    # The slow one sees the end of its stream: what it still had queued, in order, less the
    # oldest event, whose place the end marker took (the queue holds 3). Asking for more than
    # can come returns only because the stream ends (an open one would time out).
    assert _n(await _drain(slow, 10)) == [1, 2]
    await bus.publish([_telemetry(9, 10)])
    assert _n(await _drain(fast, 1)) == [10]  # the other subscriber goes on


def test_registry_rejects_unknown_backend() -> None:
    assert isinstance(build_bus("memory://"), MemoryBus)
    with pytest.raises(ValueError, match="memory://"):
        build_bus("carrier-pigeon://loft")
