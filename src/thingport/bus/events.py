"""Events the core publishes after a commit. Plain data, so a networked bus can carry them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# payload: {"device_key": str,
#           "series": [{"id": int, "key": str, "name": str, "uuid": str}, ...],
#           "points": [(series_id, ts_ms, value), ...]}   in ingest order
TELEMETRY = "telemetry"
DEVICE_CREATED = "device.created"
DEVICE_UPDATED = "device.updated"
DEVICE_CONNECTED = "device.connected"  # payload: {"device_key": str}
DEVICE_DISCONNECTED = "device.disconnected"  # payload: {"device_key": str}
COMMAND_UPDATED = "command.updated"  # payload: {"device_key", "command_id", "state"}


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    device_id: int
    payload: dict[str, Any] = field(default_factory=dict)
