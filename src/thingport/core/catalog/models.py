"""Tables of the catalogue: measurements, sensors, and which sensors a device type (kit) carries.

A sensor's id is the key of the series its readings go to (`series.key = str(sensor.id)`), which
is how SmartCitizen's `sensor_id` and every other dialect's metric name meet in one series table.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from thingport.storage.base import Base, UTCDateTime, utcnow


def _uuid() -> str:
    return str(uuid.uuid4())


class Measurement(Base):
    """What is measured (temperature, PM 2.5, battery), independent of the part measuring it."""

    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sensor(Base):
    """A part that records readings. A parent (a DHT22) only groups its children and records
    nothing itself."""

    __tablename__ = "sensors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("sensors.id", ondelete="SET NULL"), index=True
    )
    measurement_id: Mapped[int | None] = mapped_column(
        ForeignKey("measurements.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str | None] = mapped_column(String(32))
    # A short machine name ("temp", "pm25"), what firmware that does not know ids sends.
    default_key: Mapped[str | None] = mapped_column(String(100), index=True)
    datasheet: Mapped[str | None] = mapped_column(String(255))
    unit_definition: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceTypeSensor(Base):
    """A sensor a device type (SmartCitizen kit) carries."""

    __tablename__ = "device_type_sensors"

    device_type_id: Mapped[int] = mapped_column(
        ForeignKey("device_types.id", ondelete="CASCADE"), primary_key=True
    )
    sensor_id: Mapped[int] = mapped_column(
        ForeignKey("sensors.id", ondelete="CASCADE"), primary_key=True, index=True
    )
