"""The event bus interface every backend implements (in-process now; Redis/NATS later)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from typing import Protocol

from thingport.bus.events import Event


class Subscription(Protocol):
    """Events matching a filter, in publish order, until closed."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...

    def subscribe(
        self,
        *,
        device_ids: Collection[int] | None = None,
        event_types: Collection[type[Event]] | None = None,
    ) -> Subscription:
        """Events of these devices (None: all) of these exact classes (None: all). A networked
        backend carries them as `bus/codec.py` bytes; subscribers get the classes back."""
        ...

    async def close(self) -> None: ...
