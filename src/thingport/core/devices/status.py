"""A device's status is derived from when it was last seen, never stored (it would go stale)."""

from __future__ import annotations

from datetime import datetime, timedelta

from thingport.core.devices.schemas import DeviceStatus


def derive_status(
    *,
    admin_state: str,
    last_seen_at: datetime | None,
    now: datetime,
    online_window: timedelta,
    connected: bool | None = None,
) -> DeviceStatus:
    if admin_state == "deactivated":
        return "deactivated"
    if admin_state == "blocked":
        return "blocked"
    # A session (MQTT) knows better than the clock: connected is online, disconnected offline.
    if connected is not None:
        return "online" if connected else "offline"
    if last_seen_at is None:
        return "new"
    return "online" if now - last_seen_at <= online_window else "offline"
