"""Events the core publishes after a commit: one frozen class per kind of fact.

Plain data (ints, strings, tuples), so that `bus/codec.py` can carry any of them over a network
bus and back. Every event names its device by id (what subscribers filter on) and by key (what
the dialects show).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

# One stored point: (series_id, ts_ms, value).
Point = tuple[int, int, float]


@dataclass(frozen=True, slots=True)
class Event:
    """What every event has. Subscribers filter on the concrete classes below."""

    # The name an event travels under on a networked bus; unique per class (bus/codec.py).
    kind: ClassVar[str] = ""

    device_id: int
    device_key: str


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A series named in a TelemetryReceived: one per series the batch wrote to."""

    id: int
    key: str
    name: str
    uuid: str


@dataclass(frozen=True, slots=True)
class TelemetryReceived(Event):
    """Points of one device, stored by one transaction, in ingest order.

    Columnar on purpose: `points` is the very list of rows the ingest wrote (shared, not copied
    into an object per point), and `series` says once what each series id in it is.
    """

    kind: ClassVar[str] = "telemetry"

    series: tuple[SeriesInfo, ...]
    points: Sequence[Point]


@dataclass(frozen=True, slots=True)
class DeviceCreated(Event):
    kind: ClassVar[str] = "device.created"

    # Who may see it is decided by the owner (and groups, public flag) at subscription time;
    # the owner travels along so that a subscriber to "all my devices" can pick it up.
    owner_id: int


@dataclass(frozen=True, slots=True)
class DeviceUpdated(Event):
    kind: ClassVar[str] = "device.updated"

    # Core field names (DeviceFields) the update set, sorted; a subscriber that shows only
    # some of them can ignore the rest without reloading the device.
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceDeleted(Event):
    kind: ClassVar[str] = "device.deleted"


@dataclass(frozen=True, slots=True)
class DeviceConnected(Event):
    kind: ClassVar[str] = "device.connected"


@dataclass(frozen=True, slots=True)
class DeviceDisconnected(Event):
    kind: ClassVar[str] = "device.disconnected"

    # Set when the device went offline because this gateway (a device above it) did.
    gateway: str | None = None


@dataclass(frozen=True, slots=True)
class CommandUpdated(Event):
    kind: ClassVar[str] = "command.updated"

    command_id: str
    state: str  # pending, sent, answered, failed, expired


EVENT_TYPES: tuple[type[Event], ...] = (
    TelemetryReceived,
    DeviceCreated,
    DeviceUpdated,
    DeviceDeleted,
    DeviceConnected,
    DeviceDisconnected,
    CommandUpdated,
)
