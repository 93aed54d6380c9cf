"""Smart Mocha's JSON, as the API reference prints it."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
)
from typing_extensions import TypedDict

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


class ReadingIn(TypedDict):
    """One reading for `POST /v0/device/:id/data` (not in the seed).

    A TypedDict of strict types, validated straight from the request bytes: this endpoint takes
    batches of thousands of readings, and model instances per reading cost more than the
    database work. Strict types keep `true` from passing as 1 and `"1"` as a number.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    metric: Annotated[str, Field(min_length=1, max_length=100, description="metric name")]
    value: StrictFloat
    ts: NotRequired[
        Annotated[
            StrictInt | StrictFloat | StrictStr | None,
            Field(description="epoch s or ms, ISO 8601, or relative (1m-ago); default now"),
        ]
    ]
    unit: NotRequired[Annotated[str, Field(max_length=32)] | None]


READING = TypeAdapter(ReadingIn)
READINGS = TypeAdapter(list[ReadingIn])


def readings_body_schema() -> dict[str, object]:
    """OpenAPI request body of the ingest endpoint: one reading or a list of them."""
    item = READING.json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"anyOf": [item, {"type": "array", "items": item}]}}
            },
        }
    }


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
