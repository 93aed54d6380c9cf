"""Where a device is, as others may learn it.

A device whose owner turned `precise_location` off shows its coordinates rounded to about a
kilometre to everyone else. The rule has to hold wherever coordinates leak, not only where they
are printed: list filters (`latitude_gt`) and distance order (`near`) run on the same rounded
values, or a reader could home in on the exact spot by halving ranges.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Numeric, case, cast, func

from thingport.core.devices.models import Device

IMPRECISE_DECIMALS = 2


def shown_coordinates(
    latitude: float | None, longitude: float | None, *, precise: bool, exact_for_viewer: bool
) -> tuple[float | None, float | None]:
    if latitude is None or longitude is None or precise or exact_for_viewer:
        return latitude, longitude
    return round(latitude, IMPRECISE_DECIMALS), round(longitude, IMPRECISE_DECIMALS)


def _shown(column: Any) -> ColumnElement[Any]:
    # Through NUMERIC: PostgreSQL has round(numeric, int) but no round(double, int).
    rounded = func.round(cast(column, Numeric(12, 8)), IMPRECISE_DECIMALS)
    return case((Device.precise_location.is_(True), column), else_=rounded)


# What lists filter and order by. Owners see their own imprecise devices rounded in these
# too: one rule for everyone keeps the SQL simple, and the exact value is on the device itself.
SHOWN_LATITUDE = _shown(Device.latitude)
SHOWN_LONGITUDE = _shown(Device.longitude)
