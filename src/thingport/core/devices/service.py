"""The devices domain: registration, lookup, update, hierarchy, sharing rules and status."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from thingport.bus.events import (
    DeviceConnected,
    DeviceCreated,
    DeviceDeleted,
    DeviceDisconnected,
    DeviceUpdated,
    Event,
)
from thingport.bus.protocol import EventBus
from thingport.core.access import (
    CHANGEABLE,
    CONTROLLABLE,
    DELETABLE,
    OWN_OR_SHARED,
    READABLE,
    Facts,
    Rule,
)
from thingport.core.accounts.models import User
from thingport.core.accounts.passwords import hash_secret
from thingport.core.accounts.schemas import SYSTEM, Principal
from thingport.core.devices.models import Device, DeviceType
from thingport.core.devices.privacy import SHOWN_LATITUDE, SHOWN_LONGITUDE, shown_coordinates
from thingport.core.devices.repository import DevicesRepository
from thingport.core.devices.schemas import (
    MAX_ROUTE_USERNAME,
    DeviceCreate,
    DeviceFields,
    DeviceOut,
    DeviceUpdate,
    HeardRoute,
)
from thingport.core.devices.status import derive_status
from thingport.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from thingport.kit.ids import device_key
from thingport.kit.listing import ListQuery, Page
from thingport.storage.base import utcnow
from thingport.storage.engine import UnitOfWork

# Columns copied one to one from DeviceFields; type and parent are resolved to ids separately.
_PLAIN_FIELDS = (
    "name",
    "description",
    "hardware_id",
    "firmware_version",
    "deployed",
    "public",
    "latitude",
    "longitude",
    "elevation",
    "city",
    "country_code",
    "exposure",
    "address",
)
# Flags that have a value on every device: sending null for them is a mistake, not a reset.
_REQUIRED_FLAGS = (
    "deployed",
    "public",
    "precise_location",
    "forwarding_enabled",
    "notify_low_battery",
    "notify_stopped_publishing",
)
# Who else sees a device and where it hangs: its owner's (or an admin's) to decide, not a
# group administrator's (core/access.py, CONTROLLABLE).
_OWNER_FIELDS = frozenset({"public", "precise_location", "forwarding_enabled", "parent"})
# SmartCitizen kits put a 6-character token in their MQTT topics; their firmware expects that
# length. It is stored hashed like every other secret.
_DEVICE_TOKEN_BYTES = 3

# What a list may filter and sort on (kit/listing.py): core field -> column.
_LIST_COLUMNS: dict[str, Any] = {
    "id": Device.id,
    "key": Device.key,
    "uuid": Device.uuid,
    "name": Device.name,
    "description": Device.description,
    "owner_id": Device.owner_id,
    "owner_username": User.username,
    "type_id": Device.type_id,
    "hardware_id": Device.hardware_id,
    "created_at": Device.created_at,
    "updated_at": Device.updated_at,
    "last_seen_at": Device.last_seen_at,
    "latitude": SHOWN_LATITUDE,
    "longitude": SHOWN_LONGITUDE,
    "city": Device.city,
    "country_code": Device.country_code,
    "exposure": Device.exposure,
    "public": Device.public,
}


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """A device another domain may act on, after the access check."""

    id: int
    key: str
    name: str | None
    owner_id: int


@dataclass(frozen=True, slots=True)
class VirtualDevice:
    """A demo device that produces readings by itself, within the ranges of its properties."""

    ref: DeviceRef
    interval_s: float | None
    ranges: dict[str, tuple[float, float]]


def _ref(device: Device) -> DeviceRef:
    return DeviceRef(id=device.id, key=device.key, name=device.name, owner_id=device.owner_id)


def _simulation_ranges(properties: dict[str, object]) -> dict[str, tuple[float, float]]:
    ranges: dict[str, tuple[float, float]] = {}
    spec = properties.get("simulation")
    if isinstance(spec, dict):
        for key, bounds in spec.items():
            if isinstance(bounds, list) and len(bounds) == 2:
                ranges[str(key)] = (float(bounds[0]), float(bounds[1]))
    return ranges


def _route(convention: str | None, username: str | None) -> HeardRoute | None:
    return None if convention is None else HeardRoute(convention, username)


class DevicesService:
    def __init__(
        self, uow: UnitOfWork, *, online_window: timedelta, bus: EventBus | None = None
    ) -> None:
        self.uow = uow
        self.repo = DevicesRepository(uow.session)
        self.online_window = online_window
        self.bus = bus
        # The MQTT routes of the devices this unit of work read (device id -> route), so that
        # `record_routes` writes only what changed without reading the rows again.
        self._routes_read: dict[int, HeardRoute | None] = {}

    # -- reading -----------------------------------------------------------------------------

    async def _readable(self, principal: Principal | None, key: str) -> Device:
        device = await self.repo.by_key(key)
        if device is None or not await self._allows(READABLE, principal, device):
            raise NotFound(f"device {key!r} not found", field="device_id")
        return device

    async def _allows(self, rule: Rule, principal: Principal | None, device: Device) -> bool:
        facts = Facts(owner_id=device.owner_id, public=device.public)
        if rule.allows(principal, facts):
            return True
        # The device's groups are looked up only when a membership could grant what the
        # owner, admin and public grants did not.
        if not rule.needs_groups(principal):
            return False
        groups = frozenset(await self.repo.group_ids(device.id))
        return rule.allows(principal, Facts(device.owner_id, device.public, groups))

    async def _changeable(
        self, principal: Principal, key: str, rule: Rule = CHANGEABLE
    ) -> Device:
        device = await self._readable(principal, key)
        if not await self._allows(rule, principal, device):
            raise Forbidden(f"you may read device {key!r} but not {rule.name} it")
        return device

    async def resolve(
        self, principal: Principal | None, key: str, *, change: bool = False
    ) -> DeviceRef:
        if not change:
            device = await self._readable(principal, key)
        elif principal is None:
            raise Unauthenticated("authentication is required to change a device")
        else:
            device = await self._changeable(principal, key)
        self._routes_read[device.id] = _route(device.mqtt_convention, device.mqtt_username)
        return _ref(device)

    async def resolve_deletable(self, principal: Principal, key: str) -> DeviceRef:
        """Like `resolve(change=True)`, for a device about to be deleted (`DELETABLE`)."""
        device = await self._changeable(principal, key, DELETABLE)
        return _ref(device)

    async def resolve_controllable(self, principal: Principal, key: str) -> DeviceRef:
        """Like `resolve(change=True)`, for what only its owner (or an admin) decides: who else
        sees the device (`CONTROLLABLE`)."""
        device = await self._changeable(principal, key, CONTROLLABLE)
        return _ref(device)

    async def resolve_id(self, principal: Principal | None, device_id: int) -> DeviceRef:
        """Like resolve, for a device known by its internal id (from another domain's row)."""
        device = await self.repo.by_id(device_id)
        if device is None or not await self._allows(READABLE, principal, device):
            raise NotFound("device not found", field="device_id")
        return _ref(device)

    async def get(self, principal: Principal | None, key: str) -> DeviceOut:
        device = await self._readable(principal, key)
        return (await self._render([device], principal))[0]

    async def list_visible(self, principal: Principal) -> list[DeviceOut]:
        """The devices the principal owns or that are shared with one of its groups (every
        device, for an admin): `OWN_OR_SHARED`, so other people's public devices are left out."""
        return await self._render(await self.repo.allowed(principal, OWN_OR_SHARED), principal)

    async def changeable_keys(self, principal: Principal) -> list[str]:
        """Keys of every device the principal may change (an MQTT client's topics)."""
        return await self.repo.allowed_keys(principal, CHANGEABLE)

    async def list_shared_with(self, principal: Principal, group_id: int) -> list[DeviceOut]:
        """The devices shared with a group that the principal may read. Whether the principal
        may see the group at all is the groups service's to decide."""
        return await self._render(await self.repo.shared_with(principal, group_id), principal)

    async def search(self, principal: Principal | None, query: ListQuery) -> Page[DeviceOut]:
        """A page of the devices the principal may read (anonymous: public ones), filtered and
        sorted by `query` over the fields of `_LIST_COLUMNS`."""
        devices, total = await self.repo.search(principal, query, _LIST_COLUMNS)
        return Page(items=await self._render(devices, principal), total=total, query=query)

    async def readable_ids_by_owner(
        self, principal: Principal | None, owner_ids: Sequence[int]
    ) -> dict[int, list[int]]:
        """Ids of each owner's devices that the principal may read."""
        return await self.repo.readable_ids_by_owner(principal, owner_ids)

    async def get_by_id(self, principal: Principal | None, device_id: int) -> DeviceOut:
        device = await self.repo.by_id(device_id)
        if device is None or not await self._allows(READABLE, principal, device):
            raise NotFound(entity="device", key=device_id, field="id")
        return (await self._render([device], principal))[0]

    async def virtual_devices(self) -> list[VirtualDevice]:
        return [
            VirtualDevice(
                ref=_ref(d),
                interval_s=d.virtual_interval_s,
                ranges=_simulation_ranges(d.properties),
            )
            for d in await self.repo.virtual_devices()
        ]

    async def _render(
        self, devices: Sequence[Device], viewer: Principal | None
    ) -> list[DeviceOut]:
        """Devices as `viewer` may see them: the exact location of an imprecise device, and
        whether it sees the owner's private settings (`authorized`), are its owner's and the
        admins' only (CONTROLLABLE: not even a group administrator's)."""
        ids = [d.id for d in devices]
        children = await self.repo.children_keys(ids)
        parents = await self.repo.keys_by_id([d.parent_id for d in devices if d.parent_id])
        types = await self.repo.type_names([d.type_id for d in devices if d.type_id])
        now = utcnow()
        authorized = {
            d.id: CONTROLLABLE.allows(viewer, Facts(owner_id=d.owner_id)) for d in devices
        }
        shown = {
            d.id: shown_coordinates(
                d.latitude,
                d.longitude,
                precise=d.precise_location,
                exact_for_viewer=authorized[d.id],
            )
            for d in devices
        }
        return [
            DeviceOut(
                id=d.id,
                uuid=d.uuid,
                key=d.key,
                name=d.name,
                description=d.description,
                type=types.get(d.type_id) if d.type_id else None,
                type_id=d.type_id,
                parent=parents.get(d.parent_id) if d.parent_id else None,
                children=children.get(d.id, []),
                owner_id=d.owner_id,
                hardware_id=d.hardware_id,
                mac_address=d.mac_address,
                has_token=d.token_hash is not None,
                firmware_version=d.firmware_version,
                properties=d.properties,
                tags=list(d.tags or []),
                status=derive_status(
                    admin_state=d.admin_state,
                    last_seen_at=d.last_seen_at,
                    now=now,
                    online_window=self.online_window,
                    connected=d.connected,
                ),
                last_seen_at=d.last_seen_at,
                deployed=d.deployed,
                public=d.public,
                latitude=shown[d.id][0],
                longitude=shown[d.id][1],
                authorized=authorized[d.id],
                elevation=d.elevation,
                city=d.city,
                country_code=d.country_code,
                exposure=d.exposure,
                address=d.address,
                precise_location=d.precise_location,
                forwarding_enabled=d.forwarding_enabled,
                notify_low_battery=d.notify_low_battery,
                notify_stopped_publishing=d.notify_stopped_publishing,
                virtual=d.virtual,
                virtual_interval_s=d.virtual_interval_s,
                created_at=d.created_at,
                updated_at=d.updated_at,
            )
            for d in devices
        ]

    # -- writing -----------------------------------------------------------------------------

    async def create(self, principal: Principal, data: DeviceCreate) -> DeviceOut:
        key = data.key or device_key()
        if await self.repo.key_taken(key):
            # Public ids are global (they are hardware serials), so a clash is a clash.
            raise Conflict(f"a device with id {key!r} already exists", field="id")
        device = Device(key=key, owner_id=principal.user_id, properties={})
        await self._apply(principal, device, data, data.model_fields_set)
        device.virtual = data.virtual_interval_s is not None
        await self.repo.add(device)
        self._publish(DeviceCreated(device.id, device.key, device.owner_id))
        return (await self._render([device], principal))[0]

    async def update(self, principal: Principal, key: str, data: DeviceUpdate) -> DeviceOut:
        controls = bool(data.model_fields_set & _OWNER_FIELDS)
        device = await self._changeable(principal, key, CONTROLLABLE if controls else CHANGEABLE)
        await self._apply(principal, device, data, data.model_fields_set)
        device.updated_at = utcnow()
        await self.repo.session.flush()
        self._publish(DeviceUpdated(device.id, device.key, tuple(sorted(data.model_fields_set))))
        return (await self._render([device], principal))[0]

    async def _apply(
        self, principal: Principal, device: Device, data: DeviceFields, fields: set[str]
    ) -> None:
        for name in _PLAIN_FIELDS + _REQUIRED_FLAGS:
            if name in fields:
                value = getattr(data, name)
                if value is None and name in _REQUIRED_FLAGS:
                    raise InvalidInput(f"{name} must be true or false", field=name)
                setattr(device, name, value)
        if "mac_address" in fields:
            # One spelling, so a lookup by the MAC a device sends always finds it.
            mac = data.mac_address
            device.mac_address = mac.lower().replace("-", ":") if mac else None
        if "tags" in fields:
            device.tags = list(dict.fromkeys(t.strip() for t in data.tags or [] if t.strip()))
        if "type_id" in fields:
            if data.type_id is not None and await self.repo.type_by_id(data.type_id) is None:
                raise InvalidInput(f"device type {data.type_id} does not exist", field="type_id")
            device.type_id = data.type_id
        if "properties" in fields:
            device.properties = dict(data.properties or {})
        if "type" in fields and "type_id" in fields:
            raise InvalidInput("give the device type by name or by id, not both", field="type")
        if "type" in fields:
            device.type_id = (await self._type(data.type)).id if data.type else None
        if "parent" in fields:
            device.parent_id = await self._parent_id(principal, device, data.parent)
        if "virtual_interval_s" in fields:
            device.virtual_interval_s = data.virtual_interval_s

    async def _type(self, name: str) -> DeviceType:
        device_type = await self.repo.type_by_name(name)
        if device_type is None:
            device_type = DeviceType(name=name)
            await self.repo.add(device_type)
        return device_type

    async def _parent_id(
        self, principal: Principal, device: Device, parent_key: str | None
    ) -> int | None:
        if parent_key is None:
            return None
        if parent_key == device.key:
            raise InvalidInput("a device cannot be its own parent", field="parent")
        try:
            parent = await self._changeable(principal, parent_key)
        except (NotFound, Forbidden) as error:
            raise InvalidInput(f"parent device {parent_key!r} not found", field="parent") from error
        # Walk up from the new parent: finding this device there would close a cycle.
        ancestor: Device | None = parent
        while ancestor is not None and ancestor.parent_id is not None:
            if device.id is not None and ancestor.parent_id == device.id:
                raise InvalidInput("that parent would create a cycle", field="parent")
            ancestor = await self.repo.by_id(ancestor.parent_id)
        return parent.id

    async def touch(self, device_id: int, seen_at: datetime | None = None) -> None:
        await self.repo.touch(device_id, seen_at or utcnow())

    async def resolve_via_gateway(
        self, principal: Principal, gateway_key: str, device_key: str
    ) -> DeviceRef:
        """A sub-device a gateway acts for: its parent must be that gateway, which the
        principal may change."""
        gateway = await self._changeable(principal, gateway_key)
        device = await self.repo.by_key(device_key)
        if device is None or device.parent_id != gateway.id:
            raise NotFound(
                f"device {device_key!r} is not attached to gateway {gateway_key!r}",
                field="device_id",
            )
        self._routes_read[device.id] = _route(device.mqtt_convention, device.mqtt_username)
        return _ref(device)

    async def merge_properties(self, device: DeviceRef, properties: dict[str, object]) -> None:
        """Merge facts a device reports about itself (firmware, model, ...) into its properties."""
        row = await self.repo.by_id(device.id)
        if row is None:  # pragma: no cover - a resolved device exists in this transaction
            raise NotFound(f"device {device.key!r} not found", field="device_id")
        row.properties = {**row.properties, **properties}
        row.updated_at = utcnow()
        await self.repo.session.flush()
        self._publish(DeviceUpdated(device.id, device.key, ("properties",)))

    async def set_connected(self, device: DeviceRef, connected: bool) -> bool:
        """Record a session opening or closing, and tell subscribers after the commit. Returns
        whether the state changed: only a change is announced, because presence now also comes
        from status messages (TOPICS.md), which a device may repeat (a retained `online` sent
        after every reconnect, or an embedded-broker session plus its own status message)."""
        row = await self.repo.by_id(device.id)
        if row is None:  # pragma: no cover
            raise NotFound(f"device {device.key!r} not found", field="device_id")
        changed = row.connected is not connected
        row.connected = connected
        if connected:
            row.last_seen_at = utcnow()
        await self.repo.session.flush()
        if changed:
            self._publish(
                DeviceConnected(device.id, device.key)
                if connected
                else DeviceDisconnected(device.id, device.key)
            )
        if not connected:
            await self._disconnect_below(device)
        return changed

    async def _disconnect_below(self, gateway: DeviceRef) -> None:
        """A gateway that goes offline takes every device below it (children, their children)
        offline: they reach the platform only through it. Coming back online does not bring
        them back: the gateway says so for each sub-device it reaches (TOPICS.md, presence)."""
        parents = [gateway.id]
        seen = {gateway.id}
        while parents:
            for child in await self.repo.connected_children(parents):
                child.connected = False
                self._publish(DeviceDisconnected(child.id, child.key, gateway=gateway.key))
            # Walk down through every child, connected or not: a disconnected gateway below
            # may still have connected devices of its own.
            parents = [i for i in await self.repo.children_of(parents) if i not in seen]
            seen.update(parents)
        await self.repo.session.flush()

    async def command_path(self, device: DeviceRef) -> tuple[str | None, HeardRoute | None]:
        """The key of the device's parent (its gateway) and how it was last heard over MQTT:
        what a transport needs to address a command to it, whichever worker heard it."""
        gateway, convention, username = await self.repo.command_path(device.id)
        return gateway, _route(convention, username)

    async def record_routes(self, heard: Mapping[int, HeardRoute]) -> None:
        """Keep how each device (by id) was just heard over MQTT. Written only where it changed:
        the ingest path resolved these devices in this unit of work, and their routes came with
        them, so an unchanged route costs no statement at all."""
        unknown = [i for i in heard if i not in self._routes_read]
        for device_id, (convention, username) in (await self.repo.routes_by_id(unknown)).items():
            self._routes_read[device_id] = _route(convention, username)
        changed = {
            device_id: route
            for device_id, route in heard.items()
            if device_id in self._routes_read
            and self._routes_read[device_id] != route
            and len(route.username or "") <= MAX_ROUTE_USERNAME
        }
        await self.repo.set_routes([(i, r.convention, r.username) for i, r in changed.items()])
        self._routes_read.update(changed)

    def _publish(self, event: Event) -> None:
        """Tell subscribers once the transaction has committed (never, if it rolls back)."""
        if self.bus is None:
            return
        bus = self.bus

        async def publish_device_event() -> None:
            await bus.publish([event])

        self.uow.after_commit(publish_device_event)

    async def resolve_many(
        self, principal: Principal, keys: Sequence[str]
    ) -> tuple[dict[str, DeviceRef], dict[str, NotFound | Forbidden]]:
        """`resolve(principal, key, change=True)` for many keys: one query for all of them.

        Returns the devices the principal may change, and for every other key the error
        `resolve` raises for it (same code and message). Those are rare, so they simply go
        through `resolve` one by one."""
        found: dict[str, DeviceRef] = {}
        rows = await self.repo.refs_by_keys(sorted(set(keys)))
        for id_, key, name, owner_id, convention, username in rows:
            self._routes_read[id_] = _route(convention, username)
            # Without the devices' groups this is stricter than `resolve`, never looser: a
            # device only a group administration grants goes through `resolve` below.
            if CHANGEABLE.allows(principal, Facts(owner_id=owner_id)):
                found[key] = DeviceRef(id=id_, key=key, name=name, owner_id=owner_id)
        refused: dict[str, NotFound | Forbidden] = {}
        for key in keys:
            if key in found or key in refused:
                continue
            try:
                found[key] = await self.resolve(principal, key, change=True)
            except (NotFound, Forbidden) as error:
                refused[key] = error
        return found, refused

    async def touch_many(self, device_ids: Sequence[int], seen_at: datetime | None = None) -> None:
        await self.repo.touch_many(device_ids, seen_at or utcnow())

    async def issue_token(self, principal: Principal, key: str) -> str:
        """A new device token (replacing any earlier one); shown once, stored hashed."""
        device = await self._changeable(principal, key, CONTROLLABLE)
        for _ in range(20):
            token = secrets.token_hex(_DEVICE_TOKEN_BYTES)
            if not await self.repo.token_hash_taken(hash_secret(token)):
                device.token_hash = hash_secret(token)
                device.updated_at = utcnow()
                await self.repo.session.flush()
                return token
        raise Conflict("could not find a free device token; try again")  # pragma: no cover

    async def resolve_by_token(self, token: str) -> DeviceRef | None:
        """The device a token belongs to (MQTT topics of SmartCitizen kits), or None."""
        found = await self.resolve_token(token)
        return None if found is None else found[0]

    async def resolve_token(self, token: str) -> tuple[DeviceRef, int | None] | None:
        """The device a token belongs to and its kit (`type_id`), or None. A kit's readings
        name sensors, and which sensor a key means depends on the kit: both come from the one
        row the token finds."""
        device = await self.repo.by_token_hash(hash_secret(token))
        if device is None:
            return None
        ref = _ref(device)
        return ref, device.type_id

    async def delete(self, principal: Principal, key: str) -> DeviceRef:
        """Remove a device the principal may delete (`DELETABLE`: its owner or an admin). Its
        series go with it (cascade); points have no foreign key, so the caller deletes them
        through the telemetry service first (`Core.delete_device` does both)."""
        device = await self._changeable(principal, key, DELETABLE)
        ref = _ref(device)
        await self.repo.delete(device)
        # Live subscriptions to it end here (core/live): its id may be given to a new device.
        self._publish(DeviceDeleted(ref.id, ref.key))
        return ref

    async def resolve_by_mac(self, mac_address: str) -> DeviceOut | None:
        """The device with this MAC address (any case, `:` or `-` separated), or None. For
        legacy firmware whose MAC address is all it sends to say who it is (SmartCitizen
        `/add`); the caller decides what that MAC address may do."""
        mac = mac_address.strip().lower().replace("-", ":")
        device = await self.repo.by_mac_address(mac) if mac else None
        # The caller found it by what the device itself sent: it acts as the platform.
        return None if device is None else (await self._render([device], SYSTEM))[0]
