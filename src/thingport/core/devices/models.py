"""Tables of the devices domain: device types and devices (with parent/child); the group
shares are in core/groups/models.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from thingport.storage.base import Base, JSONDoc, UTCDateTime, json_default, utcnow


class DeviceType(Base):
    __tablename__ = "device_types"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    # Short stable name (SmartCitizen kits: "sck:1,1"); None for types named only by `name`.
    slug: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    # Hardware version shown with the type ("2.1"), if the type stands for one piece of hardware.
    version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    # The public id dialects with string ids show (a hardware serial, or a generated one).
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    type_id: Mapped[int | None] = mapped_column(
        ForeignKey("device_types.id", ondelete="SET NULL"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    hardware_id: Mapped[str | None] = mapped_column(String(100))
    mac_address: Mapped[str | None] = mapped_column(String(17), index=True)
    # A short secret a device puts in its MQTT topics (SmartCitizen kits); only its hash is kept.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Free labels the owner gives the device.
    tags: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=json_default)
    # Only the states a person sets; new/online/offline are derived from last_seen.
    admin_state: Mapped[str] = mapped_column(String(16), default="active")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by a transport with sessions (MQTT): True while connected, False after a disconnect.
    # None for devices that only ever post over HTTP: their status follows last_seen_at.
    connected: Mapped[bool | None] = mapped_column(Boolean)
    deployed: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    # Data policy: False shows the location rounded for everyone but the owner.
    precise_location: Mapped[bool] = mapped_column(Boolean, default=True)
    forwarding_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_low_battery: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_stopped_publishing: Mapped[bool] = mapped_column(Boolean, default=False)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    elevation: Mapped[float | None] = mapped_column(Float)
    city: Mapped[str | None] = mapped_column(String(100))
    country_code: Mapped[str | None] = mapped_column(String(2))
    exposure: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(255))
    # How commands reach the device over MQTT, as it was last heard (TOPICS.md, routes.py): the
    # convention (native, cayenne, or gateway: through its parent) and, for Cayenne, the MQTT
    # user name its topics carry. Kept here, not per process, so that any worker can address a
    # device another worker heard. None: never heard over MQTT.
    mqtt_convention: Mapped[str | None] = mapped_column(String(16))
    mqtt_username: Mapped[str | None] = mapped_column(String(255))
    virtual: Mapped[bool] = mapped_column(Boolean, default=False)
    virtual_interval_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
