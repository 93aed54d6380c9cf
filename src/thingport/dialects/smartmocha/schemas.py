"""Smart Mocha's JSON, as the API reference prints it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from thingport.core.devices.schemas import KEY_PATTERN


class Metric(BaseModel):
    id: str
    last_seen: str | None
    last_val: str | None
    name: str


class Device(BaseModel):
    attached_devices: list[str]
    created_at: str
    deployed: bool
    description: str | None
    firmware_version: str | None
    id: str
    last_seen: str | None
    location: str | None
    metrics: list[Metric]
    name: str | None
    status: str
    type: str | None
    updated_at: str


class DeviceList(BaseModel):
    count: int
    data: list[Device]
    object: Literal["list"] = "list"
    url: str = "/v0/devices"


class DeviceUpdate(BaseModel):
    """The seed's update body (name, description, location), plus the other settable fields.

    Read-only fields of the device object are accepted and ignored, so a client may PUT back
    what it got from GET; anything else is an error rather than silently dropped.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    description: str | None = None
    location: str | None = Field(default=None, max_length=255)
    deployed: bool | None = None
    firmware_version: str | None = Field(default=None, max_length=64)
    # read-only, ignored:
    id: str | None = None
    attached_devices: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    last_seen: str | None = None
    metrics: list[Metric] | None = None
    status: str | None = None
    type: str | None = None


class DeviceCreate(BaseModel):
    """Registration (not in the seed): `POST /v0/devices`."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=KEY_PATTERN, description="e.g. a hardware serial")
    name: str | None = Field(default=None, max_length=255)
    description: str | None = None
    location: str | None = Field(default=None, max_length=255)
    type: str | None = Field(default=None, max_length=100)
    parent: str | None = Field(default=None, description="id of the base station it attaches to")
    firmware_version: str | None = Field(default=None, max_length=64)
    deployed: bool = False


class ReadingIn(BaseModel):
    """One reading for `POST /v0/device/:id/data` (not in the seed)."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=100, description="metric name")
    value: float
    ts: int | float | str | None = Field(
        default=None, description="epoch s or ms, ISO 8601, or relative (1m-ago); default now"
    )
    unit: str | None = Field(default=None, max_length=32)


class IngestResult(BaseModel):
    object: Literal["ingest"] = "ingest"
    device: str
    count: int


class QueryResultItem(BaseModel):
    data: dict[str, float | None] | list[tuple[int | float, float | None]]
    device: str
    metric: str
    name: str | None
    ts: str


class QueryResponse(BaseModel):
    end: str
    object: Literal["query"] = "query"
    results: list[QueryResultItem]
    rollup: str
    start: str
