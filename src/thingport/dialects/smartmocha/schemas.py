"""Smart Mocha's JSON, as the API reference prints it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

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

    @field_validator("value", mode="before")
    @classmethod
    def _value_not_a_boolean(cls, value: object) -> object:
        # pydantic would read true as 1.0
        if isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        return value

    @field_validator("ts", mode="before")
    @classmethod
    def _time_shape(cls, value: object) -> object:
        # Checked before the union, so that an error names the field ("0.ts") rather than a
        # member of the union ("0.ts.int"), and true is not read as 1 (1970-01-01T00:00:01).
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float | str)
        ):
            raise ValueError("must be an epoch time in s or ms, a date string, or null")
        return value


def _one_or_many(value: object) -> object:
    # A single reading is a batch of one. Validating one list type (rather than the union
    # `ReadingIn | list[ReadingIn]`) makes errors name the real problem ("0.value") instead of
    # the union branch that did not match ("list[ReadingIn]: Input should be a valid list").
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise ValueError("the body must be a reading object or a list of readings")
    return value


ReadingsIn = Annotated[
    list[ReadingIn],
    BeforeValidator(_one_or_many, json_schema_input_type=ReadingIn | list[ReadingIn]),
]
"""`POST /v0/device/:id/data` takes one reading or a list of them."""


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
