"""Gathering what a page of devices shows (owners, kits, sensors with their latest values) in a
few bulk calls to the core, then rendering each device with devices_json."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from thingport.core.accounts.schemas import Principal
from thingport.core.catalog.schemas import KitOut, SensorOut
from thingport.core.devices.schemas import DeviceOut
from thingport.core.telemetry.schemas import SeriesOut
from thingport.dialects.smartcitizen.catalog_json import kit_json, sensor_json
from thingport.dialects.smartcitizen.devices_json import (
    KitView,
    OwnerView,
    SensorValue,
    device_json,
    world_map_json,
)
from thingport.kit.listing import Filter, ListQuery
from thingport.platform import Core


def _kit_view(kit: KitOut) -> KitView:
    return KitView(
        id=kit.id,
        name=kit.name,
        slug=kit.slug,
        version=kit.version,
        json=kit_json(kit),
        sensors=kit.sensors,
    )


async def _owners(
    core: Core,
    viewer: Principal | None,
    devices: Sequence[DeviceOut],
    *,
    with_device_ids: bool = True,
) -> dict[int, OwnerView]:
    owner_ids = sorted({d.owner_id for d in devices})
    if not owner_ids:
        return {}
    profiles = await core.accounts.list_users(
        viewer, ListQuery(filters=(Filter("id", "in", tuple(owner_ids)),))
    )
    # Only the `owner` object lists its devices; user pages and the map do not show it.
    device_ids = (
        await core.devices.readable_ids_by_owner(viewer, owner_ids) if with_device_ids else {}
    )
    return {
        p.id: OwnerView(
            id=p.id,
            uuid=p.uuid,
            username=p.username,
            url=p.url,
            avatar=p.avatar_url,
            city=p.city,
            country_code=p.country_code,
            device_ids=device_ids.get(p.id, []),
        )
        for p in profiles.items
    }


async def _kits(core: Core, devices: Sequence[DeviceOut]) -> dict[int, KitView]:
    """The kits of these devices, in one query, each rendered once. A device type that carries
    no sensors (a Smart Mocha type name) is no kit: its devices show none."""
    type_ids = sorted({d.type_id for d in devices if d.type_id is not None})
    if not type_ids:
        return {}
    kits = await core.catalog.list_kits(ListQuery(filters=(Filter("id", "in", tuple(type_ids)),)))
    return {kit.id: _kit_view(kit) for kit in kits.items}


def _sensor_values(
    kit: KitView | None,
    series: Sequence[SeriesOut],
    catalogue: dict[int, SensorOut],
    rendered: dict[int, dict[str, Any]],
) -> list[SensorValue]:
    """The kit's sensors, plus any catalogue sensor the device has readings for, each with its
    series' latest value. Series under other keys (a Smart Mocha metric name) are not sensors
    and are left out."""
    latest = {s.key: s for s in series}
    sensors: dict[int, SensorOut] = {s.id: s for s in (kit.sensors if kit else [])}
    for entry in series:
        if entry.key.isdigit() and int(entry.key) in catalogue:
            sensors.setdefault(int(entry.key), catalogue[int(entry.key)])
    values: list[SensorValue] = []
    for sensor in sensors.values():
        found = latest.get(sensor.series_key)
        values.append(
            SensorValue(
                json=rendered.setdefault(sensor.id, sensor_json(sensor)),
                value=found.last_value if found else None,
                last_ts_ms=found.last_ts if found else None,
            )
        )
    return values


async def _sensors(
    core: Core, devices: Sequence[DeviceOut], kits: dict[int, KitView]
) -> dict[int, list[SensorValue]]:
    series = await core.telemetry.series_of_devices([d.id for d in devices])
    numeric = {int(s.key) for entries in series.values() for s in entries if s.key.isdigit()}
    catalogue = await core.catalog.sensors_by_ids(sorted(numeric))
    rendered: dict[int, dict[str, Any]] = {}  # each sensor's JSON once for the whole page
    return {
        d.id: _sensor_values(
            kits.get(d.type_id) if d.type_id is not None else None,
            series[d.id],
            catalogue,
            rendered,
        )
        for d in devices
    }


async def render_devices(
    core: Core,
    viewer: Principal | None,
    devices: Sequence[DeviceOut],
    *,
    with_owner: bool = True,
    with_data: bool = True,
) -> list[dict[str, Any]]:
    kits = await _kits(core, devices)
    owners = await _owners(core, viewer, devices, with_device_ids=with_owner)
    sensors = await _sensors(core, devices, kits)
    now = datetime.now(UTC)
    return [
        device_json(
            d,
            viewer=viewer,
            now=now,
            owner=owners.get(d.owner_id),
            kit=kits.get(d.type_id) if d.type_id is not None else None,
            sensors=sensors[d.id],
            with_owner=with_owner,
            with_data=with_data,
        )
        for d in devices
    ]


async def world_map_entries(core: Core) -> list[dict[str, Any]]:
    """Every public device with a location and at least one reading, as anyone sees it."""
    page = await core.devices.search(
        None,
        ListQuery(
            filters=(
                Filter("latitude", "not_null", True),
                Filter("longitude", "not_null", True),
            )
        ),
    )
    kits = await _kits(core, page.items)
    owners = await _owners(core, None, page.items, with_device_ids=False)
    sensors = await _sensors(core, page.items, kits)
    now = datetime.now(UTC)
    entries: list[dict[str, Any]] = []
    for d in page.items:
        if not any(s.last_ts_ms is not None for s in sensors[d.id]):
            continue  # the map shows readings; a device without any has nothing to show
        entries.append(
            world_map_json(
                d,
                now=now,
                kit=kits.get(d.type_id) if d.type_id is not None else None,
                owner=owners.get(d.owner_id),
                sensors=sensors[d.id],
            )
        )
    return entries


async def devices_of_user(
    core: Core, viewer: Principal | None, user_id: int
) -> list[dict[str, Any]]:
    """The devices a user page lists, without `owner` and with `data` null: all the viewer may
    read (private ones only for the user themself or an admin)."""
    return (await devices_of_users(core, viewer, [user_id]))[user_id]


async def devices_of_users(
    core: Core, viewer: Principal | None, user_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """`devices_of_user` for a page of users at once: one search, one render."""
    found: dict[int, list[dict[str, Any]]] = {user_id: [] for user_id in user_ids}
    if not user_ids:
        return found
    query = ListQuery(filters=(Filter("owner_id", "in", tuple(user_ids)),))
    page = await core.devices.search(viewer, query)
    rendered = await render_devices(core, viewer, page.items, with_owner=False, with_data=False)
    for device, body in zip(page.items, rendered, strict=True):
        found[device.owner_id].append(body)
    return found
