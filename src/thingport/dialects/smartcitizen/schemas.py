"""SmartCitizen's JSON, described for the OpenAPI document.

These models document what the `*_json` modules write; they never produce a body. Routes return
ready `Response` objects (render.py), which FastAPI sends as they are, so a `response_model`
here cannot drop, coerce or reorder a field. Fields are listed in the order the service writes
them. `extra="forbid"` lets the tests validate real answers against these models: a field added
to a body and not here fails them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


Filtered = Literal["[FILTERED]"]
Time = datetime | None  # ISO 8601 in UTC without fractions, 2015-02-02T15:59:48Z


class ErrorEnvelope(_Doc):
    """Every failure: `{"id": "record_not_found", "message": ..., "url": "", "errors": ""}`."""

    id: str = Field(description="record_not_found, parameter_missing, unauthorized, ...")
    message: str
    url: str | None = Field(description="documentation to read, or empty")
    errors: str | dict[str, Any] | None = Field(
        description="for a 422: the messages of each field that failed validation"
    )
    status: int | None = Field(None, description="present on a refused search term or parameter")


class Home(_Doc):
    """`GET /v0`: each category of the API and its absolute URL."""

    model_config = ConfigDict(extra="allow")
    notice: str
    api_documentation_url: str


class Place(_Doc):
    city: str | None
    country_code: str | None
    country: str | None


class MeasurementBrief(_Doc):
    id: int
    uuid: str | None
    name: str
    description: str | None
    definition: str | None


class Measurement(MeasurementBrief):
    created_at: Time
    updated_at: Time


class Sensor(_Doc):
    id: int
    uuid: str | None
    parent_id: int | None
    name: str
    description: str | None
    unit: str | None
    tags: list[str]
    datasheet: str | None
    unit_definition: str | None
    created_at: Time
    updated_at: Time
    measurement: MeasurementBrief | None


class Kit(_Doc):
    id: int
    uuid: str | None
    slug: str | None
    name: str
    description: str | None
    created_at: Time
    updated_at: Time
    sensors: list[Sensor]


class DeviceSensor(Sensor):
    """A sensor of a device with its latest reading (stored as sent: raw_value is value)."""

    value: float | None
    raw_value: float | None
    prev_value: float | None
    prev_raw_value: float | None
    last_reading_at: Time


class Location(_Doc):
    """Keys without a value are left out; coordinates are rounded unless the viewer owns a
    device with a precise location."""

    exposure: str | None = None
    elevation: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    geohash: str | None = None
    city: str | None = None
    country_code: str | None = None
    country: str | None = None


class DataLocation(Location):
    ip: None


class Notify(_Doc):
    stopped_publishing: bool
    low_battery: bool


class DataPolicy(_Doc):
    is_private: bool
    enable_forwarding: bool | Filtered
    precise_location: bool | Filtered
    forwarding_destination: str | None


class Hardware(_Doc):
    name: str
    type: str
    version: str | None
    slug: str
    last_status_message: dict[str, Any] | Filtered | None


class Owner(_Doc):
    id: int
    uuid: str
    username: str
    url: str | None
    avatar: str | None
    profile_picture: str
    location: Place
    device_ids: list[int]


class DeviceData(_Doc):
    recorded_at: Time
    added_at: Time
    calibrated_at: Time
    firmware: str | None
    location: DataLocation
    sensors: list[DeviceSensor]


class Device(_Doc):
    id: int
    uuid: str
    name: str
    description: str | None
    state: Literal["has_published", "never_published", "not_configured"]
    status: Literal["new", "online", "offline"]
    system_tags: list[str]
    user_tags: list[str]
    last_reading_at: Time
    added_at: Time
    created_at: Time
    updated_at: Time
    notify: Notify
    device_token: str = Field(description='"[FILTERED]", except in the answer to its creation')
    mac_address: str | None = Field(None, description="only for the owner or an admin")
    postprocessing: None
    location: Location
    latitude: float | None
    longitude: float | None
    city: str | None
    country_code: str | None
    exposure: str | None
    data_policy: DataPolicy
    hardware: Hardware
    kit_id: int | None
    owner_id: int
    owner_username: str | None
    owner: Owner | None = Field(None, description="left out in a user's list of devices")
    data: DeviceData | None = Field(description="null in a user's list of devices")
    kit: Kit | None
    experiment_ids: list[int]


class WorldMapLocation(_Doc):
    exposure: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    city: str | None = None
    country: str | None = None


class WorldMapDevice(_Doc):
    id: int
    name: str
    description: str | None
    owner_id: int
    owner_username: str | None
    latitude: float | None
    longitude: float | None
    city: str | None
    country_code: str | None
    kit_id: int | None
    status: Literal["new", "online", "offline"]
    exposure: str | None
    data: dict[str, float | str | None] = Field(
        description='latest value of each sensor by id, "<id>_raw", and recorded_at, '
        "added_at, calibrated_at"
    )
    added_at: Time
    state: str
    system_tags: list[str]
    user_tags: list[str]
    last_reading_at: Time
    location: WorldMapLocation
    hardware: Hardware


class User(_Doc):
    id: int
    uuid: str
    role: str = Field(description="citizen, researcher or admin")
    username: str
    first_name: str | None
    last_name: str | None
    profile_picture: str
    avatar: str | None
    url: str | None
    location: Place
    joined_at: Time
    updated_at: Time
    email: str | None = Field(description='"[FILTERED]" unless the viewer is the user or an admin')
    legacy_api_key: Filtered | None
    forwarding_token: Filtered | None
    forwarding_username: Filtered | None
    devices: list[Device]


class Readings(_Doc):
    device_id: int
    sensor_key: str | None
    sensor_id: int | None
    component_id: int | None
    rollup: str
    function: str
    from_: Time = Field(alias="from")
    to: Time
    sample_size: int
    readings: list[tuple[datetime, float | None]] = Field(description="newest first")


class Queued(_Doc):
    """The answer to stored readings, in the envelope's shape."""

    id: Literal["ok"]
    message: str
    url: str
    errors: str


class Message(_Doc):
    message: str


class Session(_Doc):
    access_token: str


class SearchResult(_Doc):
    id: int
    type: Literal["User", "Device"]
    username: str | None = None
    avatar: str | None = None
    profile_picture: str | None = None
    name: str | None = None
    description: str | None = None
    owner_id: int | None = None
    owner_username: str | None = None
    url: str
    city: str | None
    country_code: str | None
    country: str | None


# --- request parameters (documentation of what params.py reads) ------------------------------


class DeviceParams(_Doc):
    name: str | None = Field(None, description="required to create")
    description: str | None = None
    mac_address: str | None = None
    kit_id: int | None = None
    exposure: Literal["indoor", "outdoor"] | None = None
    latitude: float | None = None
    longitude: float | None = None
    elevation: float | None = None
    city: str | None = None
    country_code: str | None = None
    is_private: bool | None = None
    precise_location: bool | None = None
    notify_low_battery: bool | None = None
    notify_stopped_publishing: bool | None = None
    enable_forwarding: bool | None = None
    user_tags: list[str] | str | None = Field(None, description="a list, or names joined by ,")


class UserParams(_Doc):
    username: str | None = Field(None, description="3 to 30 characters; required to sign up")
    email: str | None = Field(None, description="required to sign up")
    password: str | None = Field(None, description="required to sign up")
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    country_code: str | None = None
    url: str | None = None
    avatar: str | None = Field(None, description="a picture's URL")
    profile_picture: str | None = Field(None, description="the same as avatar")


class SessionParams(_Doc):
    username: str = Field(description="a username or an e-mail address")
    password: str


class PasswordResetParams(_Doc):
    email: str | None = None
    username: str | None = None
    email_or_username: str | None = None


class NewPasswordParams(_Doc):
    password: str
