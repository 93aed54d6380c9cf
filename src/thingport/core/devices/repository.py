"""All SQL of the devices domain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.access import READABLE, Rule, Shares, Target
from thingport.core.accounts.models import User
from thingport.core.accounts.schemas import Principal
from thingport.core.devices.models import Device, DeviceType
from thingport.core.devices.privacy import SHOWN_LATITUDE, SHOWN_LONGITUDE
from thingport.core.groups.models import DeviceGroup
from thingport.kit.listing import ListQuery
from thingport.storage.fastpath import driver_of
from thingport.storage.listing import Columns, filtered

# Once per ingest batch, so it goes through the driver fast path.
_TOUCH = (
    "UPDATE devices SET last_seen_at = ? "
    "WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)"
)
# On the ingest path too (rarely: only when a device's route changed).
_SET_ROUTE = "UPDATE devices SET mqtt_convention = ?, mqtt_username = ? WHERE id = ?"

# The columns the access policy's SQL form reads for devices.
DEVICES = Target(
    owner_id=Device.owner_id,
    id=Device.id,
    public=Device.public,
    shares=Shares(object_id=DeviceGroup.device_id, group_id=DeviceGroup.group_id),
)


class DevicesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, obj: Device | DeviceType) -> None:
        self.session.add(obj)
        await self.session.flush()

    async def by_key(self, key: str) -> Device | None:
        result = await self.session.execute(select(Device).where(Device.key == key))
        return result.scalar_one_or_none()

    async def by_id(self, device_id: int) -> Device | None:
        return await self.session.get(Device, device_id)

    async def key_taken(self, key: str) -> bool:
        result = await self.session.execute(select(Device.id).where(Device.key == key))
        return result.first() is not None

    async def allowed(self, principal: Principal | None, rule: Rule) -> Sequence[Device]:
        """Every device `rule` allows the principal, in id order."""
        result = await self.session.execute(
            select(Device).where(rule.where(principal, DEVICES)).order_by(Device.id)
        )
        return result.scalars().all()

    async def allowed_keys(self, principal: Principal | None, rule: Rule) -> list[str]:
        result = await self.session.execute(
            select(Device.key).where(rule.where(principal, DEVICES)).order_by(Device.id)
        )
        return list(result.scalars().all())

    async def shared_with(self, principal: Principal | None, group_id: int) -> Sequence[Device]:
        """The devices shared with a group, of those the principal may read."""
        result = await self.session.execute(
            select(Device)
            .join(DeviceGroup, DeviceGroup.device_id == Device.id)
            .where(DeviceGroup.group_id == group_id, READABLE.where(principal, DEVICES))
            .order_by(Device.id)
        )
        return result.scalars().all()

    async def readable_ids_by_owner(
        self, principal: Principal | None, owner_ids: Sequence[int]
    ) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {owner_id: [] for owner_id in owner_ids}
        if not owner_ids:
            return found
        statement = select(Device.owner_id, Device.id).where(
            Device.owner_id.in_(owner_ids), READABLE.where(principal, DEVICES)
        )
        for owner_id, device_id in (
            await self.session.execute(statement.order_by(Device.id))
        ).all():
            found[owner_id].append(device_id)
        return found

    async def search(
        self, principal: Principal | None, query: ListQuery, columns: Columns
    ) -> tuple[Sequence[Device], int]:
        """One page of the devices a principal may read, and how many there are in all."""
        statement = (
            select(Device)
            .join(User, User.id == Device.owner_id)
            .where(READABLE.where(principal, DEVICES))
        )
        page, count = filtered(
            statement,
            columns,
            query,
            location=(SHOWN_LATITUDE, SHOWN_LONGITUDE),
            tie_breaker=Device.id,
        )
        total = (await self.session.execute(count)).scalar_one()
        return (await self.session.execute(page)).scalars().all(), int(total)

    async def type_by_id(self, type_id: int) -> DeviceType | None:
        return await self.session.get(DeviceType, type_id)

    async def token_hash_taken(self, token_hash: str) -> bool:
        result = await self.session.execute(
            select(Device.id).where(Device.token_hash == token_hash)
        )
        return result.first() is not None

    async def by_token_hash(self, token_hash: str) -> Device | None:
        result = await self.session.execute(select(Device).where(Device.token_hash == token_hash))
        return result.scalar_one_or_none()

    async def delete(self, device: Device) -> None:
        await self.session.delete(device)
        await self.session.flush()

    async def virtual_devices(self) -> Sequence[Device]:
        result = await self.session.execute(select(Device).where(Device.virtual.is_(True)))
        return result.scalars().all()

    async def group_ids(self, device_id: int) -> list[int]:
        result = await self.session.execute(
            select(DeviceGroup.group_id).where(DeviceGroup.device_id == device_id)
        )
        return list(result.scalars().all())

    async def children_keys(self, device_ids: Sequence[int]) -> dict[int, list[str]]:
        children: dict[int, list[str]] = defaultdict(list)
        if not device_ids:
            return children
        result = await self.session.execute(
            select(Device.parent_id, Device.key)
            .where(Device.parent_id.in_(device_ids))
            .order_by(Device.id)
        )
        for parent_id, key in result.all():
            if parent_id is not None:
                children[parent_id].append(key)
        return children

    async def connected_children(self, parent_ids: Sequence[int]) -> Sequence[Device]:
        result = await self.session.execute(
            select(Device)
            .where(Device.parent_id.in_(parent_ids), Device.connected.is_(True))
            .order_by(Device.id)
        )
        return result.scalars().all()

    async def children_of(self, parent_ids: Sequence[int]) -> list[int]:
        result = await self.session.execute(
            select(Device.id).where(Device.parent_id.in_(parent_ids))
        )
        return list(result.scalars().all())

    async def keys_by_id(self, device_ids: Sequence[int]) -> dict[int, str]:
        if not device_ids:
            return {}
        result = await self.session.execute(
            select(Device.id, Device.key).where(Device.id.in_(device_ids))
        )
        return {row[0]: row[1] for row in result.all()}

    async def type_names(self, type_ids: Sequence[int]) -> dict[int, str]:
        if not type_ids:
            return {}
        result = await self.session.execute(
            select(DeviceType.id, DeviceType.name).where(DeviceType.id.in_(type_ids))
        )
        return {row[0]: row[1] for row in result.all()}

    async def type_by_name(self, name: str) -> DeviceType | None:
        result = await self.session.execute(select(DeviceType).where(DeviceType.name == name))
        return result.scalar_one_or_none()

    async def touch(self, device_id: int, seen_at: datetime) -> None:
        """Move last_seen forward (never back: late, back-filled data must not hide a device)."""
        driver = await driver_of(self.session)
        stamp = driver.timestamp(seen_at)
        await driver.execute(_TOUCH, stamp, device_id, stamp)

    async def refs_by_keys(
        self, keys: Sequence[str]
    ) -> list[tuple[int, str, str | None, int, str | None, str | None]]:
        """(id, key, name, owner_id, mqtt_convention, mqtt_username) of the devices with these
        keys, in one query (batch ingest: one lookup for a whole MQTT batch instead of one per
        device; the route comes along so that recording it costs nothing when unchanged)."""
        if not keys:
            return []
        result = await self.session.execute(
            select(
                Device.id,
                Device.key,
                Device.name,
                Device.owner_id,
                Device.mqtt_convention,
                Device.mqtt_username,
            ).where(Device.key.in_(keys))
        )
        return [(row[0], row[1], row[2], row[3], row[4], row[5]) for row in result.all()]

    async def routes_by_id(
        self, device_ids: Sequence[int]
    ) -> dict[int, tuple[str | None, str | None]]:
        if not device_ids:
            return {}
        result = await self.session.execute(
            select(Device.id, Device.mqtt_convention, Device.mqtt_username).where(
                Device.id.in_(device_ids)
            )
        )
        return {row[0]: (row[1], row[2]) for row in result.all()}

    async def set_routes(self, routes: Sequence[tuple[int, str, str | None]]) -> None:
        """(id, convention, username) for each device, in one executemany; ids in order, so
        that concurrent writers lock rows in the same order (as touch_many)."""
        if not routes:
            return
        driver = await driver_of(self.session)
        await driver.executemany(_SET_ROUTE, [(c, u, i) for i, c, u in sorted(routes)])

    async def command_path(self, device_id: int) -> tuple[str | None, str | None, str | None]:
        """(parent's key, mqtt_convention, mqtt_username) of a device: how a command reaches it."""
        parent = Device.__table__.alias("parent")
        result = await self.session.execute(
            select(parent.c.key, Device.mqtt_convention, Device.mqtt_username)
            .select_from(Device)
            .outerjoin(parent, parent.c.id == Device.parent_id)
            .where(Device.id == device_id)
        )
        row = result.first()
        return (None, None, None) if row is None else (row[0], row[1], row[2])

    async def touch_many(self, device_ids: Sequence[int], seen_at: datetime) -> None:
        """`touch` for many devices in one driver call. Ids in order, so that two writers
        touching overlapping devices lock the rows in the same order (no deadlock)."""
        if not device_ids:
            return
        driver = await driver_of(self.session)
        stamp = driver.timestamp(seen_at)
        await driver.executemany(
            _TOUCH, [(stamp, device_id, stamp) for device_id in sorted(set(device_ids))]
        )

    async def by_mac_address(self, mac_address: str) -> Device | None:
        """`mac_address` as stored: lower case, `:` separated (the service writes it so)."""
        result = await self.session.execute(
            select(Device).where(Device.mac_address == mac_address).order_by(Device.id).limit(1)
        )
        return result.scalar_one_or_none()
