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
        kinds: Collection[str] | None = None,
    ) -> Subscription: ...

    async def close(self) -> None: ...
