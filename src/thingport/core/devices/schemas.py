"""What the devices service takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeviceStatus = Literal["new", "online", "offline", "deactivated", "blocked"]

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"


class DeviceFields(BaseModel):
    """Fields a caller may set, on create or (partially) on update."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    description: str | None = None
    type: str | None = Field(default=None, max_length=100, description="device type name")
    parent: str | None = Field(default=None, description="public id of the parent (gateway)")
    hardware_id: str | None = Field(default=None, max_length=100)
    firmware_version: str | None = Field(default=None, max_length=64)
    properties: dict[str, Any] | None = None
    deployed: bool | None = None
    public: bool | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    elevation: float | None = None
    city: str | None = Field(default=None, max_length=100)
    country_code: str | None = Field(default=None, min_length=2, max_length=2)
    exposure: str | None = Field(default=None, max_length=16)
    address: str | None = Field(default=None, max_length=255)
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
    parent: str | None
    children: list[str]
    owner_id: int
    hardware_id: str | None
    firmware_version: str | None
    properties: dict[str, Any]
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
    virtual: bool
    virtual_interval_s: float | None
    created_at: datetime
    updated_at: datetime
