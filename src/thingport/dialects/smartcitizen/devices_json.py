"""A device as SmartCitizen shows it: everything the seed documents (status, added_at, kit,
data.location, data.sensors with value and raw_value) plus what the live service grew and its
official client requires (uuid, state, system_tags, user_tags, notify, data_policy, hardware,
owner, location).

Owners and admins see the private fields (mac_address, data policy details, the kit's last
status message); everyone else sees "[FILTERED]" where the live service puts it, or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pygeohash

from thingport.core.accounts.schemas import Principal
from thingport.core.catalog.schemas import SensorOut
from thingport.core.devices.schemas import DeviceOut
from thingport.dialects.smartcitizen.render import FILTERED, country_name, iso, iso_ms, place_json

# "new" in system_tags: added within the last week (live service).
_NEW_FOR = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class OwnerView:
    id: int
    uuid: str
    username: str
    url: str | None = None
    avatar: str | None = None
    city: str | None = None
    country_code: str | None = None
    device_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class KitView:
    id: int
    name: str
    slug: str | None
    version: str | None
    json: dict[str, Any]  # the kit as GET /v0/kits/:id renders it
    sensors: list[SensorOut]


@dataclass(frozen=True, slots=True)
class SensorValue:
    """A sensor of the device, rendered as GET /v0/sensors/:id does, with its latest reading."""

    json: dict[str, Any]
    value: float | None
    last_ts_ms: int | None




def location_json(device: DeviceOut) -> dict[str, Any]:
    """The live service's `location`: keys without a value are left out. The coordinates are
    as the core showed them to the viewer (rounded, for an imprecise device not its own)."""
    latitude, longitude = device.latitude, device.longitude
    geohash = (
        pygeohash.encode(latitude, longitude, precision=10)
        if latitude is not None and longitude is not None
        else None
    )
    values: dict[str, Any] = {
        "exposure": device.exposure,
        "elevation": int(device.elevation) if device.elevation is not None else None,
        "latitude": latitude,
        "longitude": longitude,
        "geohash": geohash,
        "city": device.city,
        "country_code": device.country_code,
        "country": country_name(device.country_code),
    }
    return {key: value for key, value in values.items() if value is not None}


def seed_status(device: DeviceOut) -> str:
    """new / online / offline (the seed's three); an administratively stopped device is offline."""
    return device.status if device.status in ("new", "online", "offline") else "offline"


def state(device: DeviceOut, has_readings: bool) -> str:
    if has_readings or device.last_seen_at is not None:
        return "has_published"
    if device.mac_address or device.has_token:
        return "never_published"
    return "not_configured"


def system_tags(device: DeviceOut, now: datetime) -> list[str]:
    tags = [
        device.exposure or "",
        "new" if now - device.created_at < _NEW_FOR else "",
        "online" if device.status == "online" else "offline",
    ]
    return sorted(tag for tag in tags if tag)


def hardware_json(device: DeviceOut, kit: KitView | None, authorized: bool) -> dict[str, Any]:
    info = device.properties.get("hardware_info")
    reported_version = info.get("hw_ver") if isinstance(info, dict) else None
    version = (kit.version if kit else None) or reported_version
    slug = kit.slug if kit and kit.slug else None
    kind = "SCK" if (slug or "").startswith("sck") or (kit is None and version) else None
    return {
        "name": kit.name if kit else (f"SmartCitizen Kit {version}" if version else "Unknown"),
        "type": kind or (kit.name if kit else "Unknown"),
        "version": version,
        "slug": slug or (f"sck:{version.replace('.', ',')}" if version else "unknown"),
        "last_status_message": (info if isinstance(info, dict) else None)
        if authorized
        else FILTERED,
    }


def owner_json(owner: OwnerView) -> dict[str, Any]:
    return {
        "id": owner.id,
        "uuid": owner.uuid,
        "username": owner.username,
        "url": owner.url,
        "avatar": owner.avatar,
        "profile_picture": owner.avatar or "",
        "location": place_json(owner.city, owner.country_code),
        "device_ids": owner.device_ids,
    }


def sensor_json(sensor: SensorValue) -> dict[str, Any]:
    return {
        **sensor.json,
        # Readings are stored as sent; no calibration equations run on them (CONTRACT.md).
        "value": sensor.value,
        "raw_value": sensor.value,
        "prev_value": None,
        "prev_raw_value": None,
        "last_reading_at": iso_ms(sensor.last_ts_ms),
    }


def device_json(
    device: DeviceOut,
    *,
    viewer: Principal | None,
    now: datetime,
    owner: OwnerView | None,
    kit: KitView | None,
    sensors: list[SensorValue],
    with_owner: bool = True,
    with_data: bool = True,
) -> dict[str, Any]:
    authorized = device.authorized  # the core decides, and rounded the location already
    location = location_json(device)
    last_ts = max((s.last_ts_ms for s in sensors if s.last_ts_ms is not None), default=None)
    body: dict[str, Any] = {
        "id": device.id,
        "uuid": device.uuid,
        "name": device.name,
        "description": device.description,
        "state": state(device, last_ts is not None),
        "status": seed_status(device),
        "system_tags": system_tags(device, now),
        "user_tags": device.tags,
        "last_reading_at": iso_ms(last_ts) or iso(device.last_seen_at),
        "added_at": iso(device.created_at),
        "created_at": iso(device.created_at),
        "updated_at": iso(device.updated_at),
        "notify": {
            "stopped_publishing": device.notify_stopped_publishing,
            "low_battery": device.notify_low_battery,
        },
        # Stored hashed: the token is shown once, in the answer to the create request.
        "device_token": FILTERED,
    }
    if authorized and device.mac_address:
        body["mac_address"] = device.mac_address
    body.update(
        {
            "postprocessing": None,
            "location": location,
            "latitude": location.get("latitude"),
            "longitude": location.get("longitude"),
            "city": device.city,
            "country_code": device.country_code,
            "exposure": device.exposure,
            "data_policy": {
                "is_private": not device.public,
                "enable_forwarding": device.forwarding_enabled if authorized else FILTERED,
                "precise_location": device.precise_location if authorized else FILTERED,
                "forwarding_destination": None if authorized else FILTERED,
            },
            "hardware": hardware_json(device, kit, authorized),
            "kit_id": kit.id if kit else None,
            "owner_id": device.owner_id,
            "owner_username": owner.username if owner else None,
        }
    )
    if with_owner:
        body["owner"] = owner_json(owner) if owner else None
    if not with_data:
        body["data"] = None  # the seed's user page shows "data": null for each device
    else:
        sensors_out = sorted((sensor_json(s) for s in sensors), key=lambda s: str(s["name"]))
        body["data"] = {
            "recorded_at": iso_ms(last_ts),
            "added_at": iso(device.last_seen_at),
            "calibrated_at": iso_ms(last_ts),
            "firmware": device.firmware_version,
            "location": {"ip": None, **location},
            "sensors": sensors_out,
        }
    body["kit"] = kit.json if kit else None
    body["experiment_ids"] = []
    return body


def world_map_json(
    device: DeviceOut,
    *,
    now: datetime,
    kit: KitView | None,
    owner: OwnerView | None,
    sensors: list[SensorValue],
) -> dict[str, Any]:
    """The world map's summary: the seed's fields plus the live service's; never private."""
    location = location_json(device)  # listed for anonymous: never exact
    last_ts = max((s.last_ts_ms for s in sensors if s.last_ts_ms is not None), default=None)
    data: dict[str, Any] = {}
    for sensor in sensors:
        if sensor.value is not None:
            data[str(sensor.json["id"])] = sensor.value
            data[f"{sensor.json['id']}_raw"] = sensor.value
    data.update(
        {
            "recorded_at": iso_ms(last_ts),
            "added_at": iso(device.last_seen_at),
            "calibrated_at": iso_ms(last_ts),
        }
    )
    return {
        "id": device.id,
        "name": device.name,
        "description": device.description,
        "owner_id": device.owner_id,
        "owner_username": owner.username if owner else None,
        "latitude": location.get("latitude"),
        "longitude": location.get("longitude"),
        "city": device.city,
        "country_code": device.country_code,
        "kit_id": kit.id if kit else None,
        "status": seed_status(device),
        "exposure": device.exposure,
        "data": data,
        "added_at": iso(device.created_at),
        "state": state(device, last_ts is not None),
        "system_tags": system_tags(device, now),
        "user_tags": device.tags,
        "last_reading_at": iso_ms(last_ts) or iso(device.last_seen_at),
        "location": {
            key: location[key]
            for key in ("exposure", "latitude", "longitude", "city", "country")
            if key in location
        },
        "hardware": {**hardware_json(device, kit, authorized=False)},
    }
