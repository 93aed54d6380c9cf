"""The live domain: typed events of the devices a principal may read, as they happen.

Every live channel (the Smart Mocha SSE stream; the websockets and socket.io of the dialects
to come) subscribes here rather than to the bus, so access is checked the same way for all of
them: once, when subscribing, with the devices service's `resolve`. Another tenant's device is
a NotFound, exactly as when reading it.
"""

from __future__ import annotations

from thingport.bus.events import DeviceDeleted
from thingport.bus.protocol import EventBus
from thingport.core.accounts.schemas import Principal
from thingport.core.devices.service import DevicesService
from thingport.core.live.schemas import LiveFilter
from thingport.core.live.subscription import LiveSubscription
from thingport.kit.errors import InvalidInput


class LiveService:
    """Part of `Core`, because the access check reads devices in the caller's transaction;
    what it returns outlives that transaction (see LiveSubscription)."""

    def __init__(self, *, devices: DevicesService, bus: EventBus) -> None:
        self.devices = devices
        self.bus = bus

    async def subscribe(self, principal: Principal | None, live: LiveFilter) -> LiveSubscription:
        """Events of `live.device_keys`, each readable by the principal (None: anonymous, who
        may read public devices), from now on. The caller closes the subscription."""
        if not live.device_keys:
            raise InvalidInput("a live subscription names at least one device", field="device_id")
        devices = [await self.devices.resolve(principal, key) for key in live.device_keys]
        # Deletions always come through: they end the subscription to what was checked.
        event_types = None if live.event_types is None else live.event_types | {DeviceDeleted}
        # Subscribed before returning, so nothing published after the caller asked is missed.
        subscription = self.bus.subscribe(
            device_ids=[device.id for device in devices], event_types=event_types
        )
        return LiveSubscription(subscription, devices, live.event_types)
