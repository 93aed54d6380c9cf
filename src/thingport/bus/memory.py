"""In-process event bus: one asyncio queue per subscriber, filtered at publish time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Sequence

from thingport.bus.events import Event

log = logging.getLogger(__name__)

_CLOSED = object()


class MemorySubscription:
    def __init__(
        self,
        bus: MemoryBus,
        device_ids: frozenset[int] | None,
        event_types: frozenset[type[Event]] | None,
        max_queued: int,
    ) -> None:
        self._bus = bus
        self.device_ids = device_ids
        self.event_types = event_types
        self._queue: asyncio.Queue[Event | object] = asyncio.Queue(max_queued)
        self.closed = False

    def matches(self, event: Event) -> bool:
        return (self.device_ids is None or event.device_id in self.device_ids) and (
            # Exact classes: events are leaves, and a set lookup costs the same for any filter.
            self.event_types is None or type(event) in self.event_types
        )

    def offer(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # A consumer that cannot keep up is cut off rather than slowing every publisher; it
            # sees the end of its stream and may reconnect.
            log.warning("event subscriber fell %d events behind; closing it", self._queue.qsize())
            self._end()

    def _end(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bus._remove(self)
        while True:  # make room for the end marker
            try:
                self._queue.put_nowait(_CLOSED)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()

    async def close(self) -> None:
        self._end()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            assert isinstance(item, Event)
            yield item


class MemoryBus:
    def __init__(self, max_queued: int = 10_000) -> None:
        self._subscribers: list[MemorySubscription] = []
        self._max_queued = max_queued

    async def publish(self, events: Sequence[Event]) -> None:
        for subscriber in list(self._subscribers):
            for event in events:
                if subscriber.matches(event):
                    subscriber.offer(event)

    def subscribe(
        self,
        *,
        device_ids: Collection[int] | None = None,
        event_types: Collection[type[Event]] | None = None,
    ) -> MemorySubscription:
        subscription = MemorySubscription(
            self,
            frozenset(device_ids) if device_ids is not None else None,
            frozenset(event_types) if event_types is not None else None,
            self._max_queued,
        )
        self._subscribers.append(subscription)
        return subscription

    def _remove(self, subscription: MemorySubscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def close(self) -> None:
        for subscriber in list(self._subscribers):
            await subscriber.close()
