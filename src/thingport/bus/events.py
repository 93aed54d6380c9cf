"""Events the core publishes after a commit. Plain data, so a networked bus can carry them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TELEMETRY = "telemetry"  # payload: {"device_key": str, "points": [PointEvent as dict, ...]}
DEVICE_CREATED = "device.created"
DEVICE_UPDATED = "device.updated"


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    device_id: int
    payload: dict[str, Any] = field(default_factory=dict)
