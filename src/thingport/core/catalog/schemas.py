"""What the catalogue service returns: measurements, sensors and kits (device types with the
sensors they carry)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class MeasurementOut(BaseModel):
    id: int
    uuid: str
    name: str
    description: str
    definition: str | None
    created_at: datetime
    updated_at: datetime


class SensorOut(BaseModel):
    id: int
    uuid: str
    parent_id: int | None
    name: str
    description: str
    unit: str | None
    # The short name firmware that does not know sensor ids sends ("temp", "pm25").
    default_key: str | None
    datasheet: str | None
    unit_definition: str | None
    measurement: MeasurementOut | None
    created_at: datetime
    updated_at: datetime

    @property
    def series_key(self) -> str:
        """The key of the series a device's readings of this sensor go to."""
        return str(self.id)


class KitOut(BaseModel):
    """A device type that carries sensors (a SmartCitizen kit)."""

    id: int
    uuid: str
    slug: str | None
    name: str
    description: str | None
    version: str | None
    created_at: datetime
    updated_at: datetime
    sensors: list[SensorOut]
