"""A live subscription: the bus events of devices whose access was already checked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from thingport.bus.events import DeviceDeleted, Event
from thingport.bus.protocol import Subscription
from thingport.core.devices.service import DeviceRef


class LiveSubscription:
    """Typed events, in publish order, until closed or until every device in it is deleted.

    It holds a bus subscription and nothing of the transaction that checked access (no
    session, no unit of work), so it keeps running after that transaction has ended: a stream
    answers its request first and then runs for as long as the client listens.
    """

    def __init__(
        self,
        subscription: Subscription,
        devices: Sequence[DeviceRef],
        event_types: frozenset[type[Event]] | None,
    ) -> None:
        self._subscription = subscription
        self.devices = tuple(devices)
        self._event_types = event_types
        self._live_ids = {device.id for device in devices}

    def _wanted(self, event: Event) -> bool:
        return self._event_types is None or type(event) in self._event_types

    async def __aiter__(self) -> AsyncIterator[Event]:
        async for event in self._subscription:
            if event.device_id not in self._live_ids:
                continue  # a deleted device's id, which SQLite may give to another's device
            if isinstance(event, DeviceDeleted):
                # What was checked is gone: no event under this id belongs to the subscriber
                # any more, and a device that reappears with the key may not be theirs.
                self._live_ids.discard(event.device_id)
                if self._wanted(event):
                    yield event
                if not self._live_ids:
                    await self.close()
                    return
            elif self._wanted(event):
                yield event

    async def close(self) -> None:
        await self._subscription.close()
