"""What the devices service takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeviceStatus = Literal["new", "online", "offline", "deactivated", "blocked"]

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
MAC_PATTERN = r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$"


class DeviceFields(BaseModel):
    """Fields a caller may set, on create or (partially) on update."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    description: str | None = None
    type: str | None = Field(default=None, max_length=100, description="device type name")
    parent: str | None = Field(default=None, description="public id of the parent (gateway)")
    type_id: int | None = Field(default=None, description="an existing device type (kit) id")
    hardware_id: str | None = Field(default=None, max_length=100)
    mac_address: str | None = Field(default=None, pattern=MAC_PATTERN)
    firmware_version: str | None = Field(default=None, max_length=64)
    properties: dict[str, Any] | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    deployed: bool | None = None
    public: bool | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    elevation: float | None = None
    city: str | None = Field(default=None, max_length=100)
    country_code: str | None = Field(default=None, min_length=2, max_length=2)
    exposure: str | None = Field(default=None, max_length=16)
    address: str | None = Field(default=None, max_length=255)
    precise_location: bool | None = None
    forwarding_enabled: bool | None = None
    notify_low_battery: bool | None = None
    notify_stopped_publishing: bool | None = None
    virtual_interval_s: float | None = Field(default=None, gt=0)


class DeviceCreate(DeviceFields):
    key: str | None = Field(
        default=None, pattern=KEY_PATTERN, description="caller-chosen public id, e.g. a serial"
    )


class DeviceUpdate(DeviceFields):
    """Only the fields that were sent are changed (`model_fields_set`)."""


class DeviceOut(BaseModel):
    id: int
    uuid: str
    key: str
    name: str | None
    description: str | None
    type: str | None
    type_id: int | None
    parent: str | None
    children: list[str]
    owner_id: int
    hardware_id: str | None
    mac_address: str | None
    has_token: bool
    firmware_version: str | None
    properties: dict[str, Any]
    tags: list[str]
    status: DeviceStatus
    last_seen_at: datetime | None
    deployed: bool
    public: bool
    latitude: float | None
    longitude: float | None
    elevation: float | None
    city: str | None
    country_code: str | None
    exposure: str | None
    address: str | None
    precise_location: bool
    # The viewer is the owner or an admin: the coordinates above are exact even when
    # `precise_location` is off (else rounded), and the owner's private settings are its to see.
    authorized: bool
    forwarding_enabled: bool
    notify_low_battery: bool
    notify_stopped_publishing: bool
    virtual: bool
    virtual_interval_s: float | None
    created_at: datetime
    updated_at: datetime


# The longest MQTT user name a route keeps (the column's size); a longer one is not recorded.
MAX_ROUTE_USERNAME = 255


@dataclass(frozen=True, slots=True)
class HeardRoute:
    """How a device was last heard over MQTT, which is how commands reach it: the topic
    convention (`native`, `cayenne`, or `gateway` for through its parent) and, for Cayenne, the
    MQTT user name in its topics. Core only keeps it; the MQTT transport gives it meaning."""

    convention: str
    username: str | None = None
