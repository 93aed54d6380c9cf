"""The catalogue domain: measurements, sensors, and kits (device types with their sensors).

A sensor's id is the key of the series its readings go to on a device (`str(sensor.id)`), so
anything that names a sensor (an id, or the short `default_key` older firmware sends) ends up
here to be turned into a sensor before readings are stored or queried.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from thingport.core.catalog import builtin
from thingport.core.catalog.models import DeviceTypeSensor, Measurement, Sensor
from thingport.core.catalog.repository import CatalogRepository
from thingport.core.catalog.schemas import KitOut, MeasurementOut, SensorOut
from thingport.core.devices.models import DeviceType
from thingport.kit.errors import NotFound
from thingport.kit.listing import ListQuery, Page
from thingport.storage.engine import UnitOfWork

SensorRef = int | str


def _measurement_out(row: Measurement) -> MeasurementOut:
    return MeasurementOut(
        id=row.id,
        uuid=row.uuid,
        name=row.name,
        description=row.description or "",
        definition=row.definition,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def numeric_ref(ref: SensorRef) -> int | None:
    """The sensor id a reference stands for, if it is one (`55` or `"55"`), else None."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref
    text = ref.strip()
    return int(text) if text.isascii() and text.isdigit() else None


class CatalogService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = CatalogRepository(uow.session)

    async def _sensors_out(self, rows: Sequence[Sensor]) -> list[SensorOut]:
        measurements = await self.repo.measurements_by_ids(
            [s.measurement_id for s in rows if s.measurement_id is not None]
        )
        return [
            SensorOut(
                id=s.id,
                uuid=s.uuid,
                parent_id=s.parent_id,
                name=s.name,
                # The catalogue never shows a null description (the official client needs one).
                description=s.description or "",
                unit=s.unit,
                default_key=s.default_key,
                datasheet=s.datasheet,
                unit_definition=s.unit_definition,
                measurement=_measurement_out(measurements[s.measurement_id])
                if s.measurement_id in measurements
                else None,
                created_at=s.created_at,
                updated_at=s.updated_at,
            )
            for s in rows
        ]

    # -- sensors --------------------------------------------------------------------------------

    async def list_sensors(self, query: ListQuery) -> Page[SensorOut]:
        """Fields: id, uuid, parent_id, name, description, unit, measurement_id, created_at,
        updated_at."""
        rows, total = await self.repo.sensors_page(query)
        return Page(items=await self._sensors_out(rows), total=total, query=query)

    async def get_sensor(self, sensor_id: int) -> SensorOut:
        found = await self.sensors_by_ids([sensor_id])
        if sensor_id not in found:
            raise NotFound(entity="sensor", key=sensor_id, field="id")
        return found[sensor_id]

    async def sensors_by_ids(self, ids: Sequence[int]) -> dict[int, SensorOut]:
        """The sensors with these ids (unknown ids are simply absent)."""
        return {s.id: s for s in await self._sensors_out(await self.repo.sensors_by_ids(ids))}

    async def sensors_for_types(self, type_ids: Sequence[int]) -> dict[int, list[SensorOut]]:
        """The sensors each device type (kit) carries, by type id, ordered by sensor id. Every
        requested id is a key; a type without sensors maps to []."""
        ids_by_type = await self.repo.sensor_ids_for_types(type_ids)
        sensors = await self.sensors_by_ids([i for ids in ids_by_type.values() for i in ids])
        return {
            type_id: [sensors[i] for i in ids_by_type.get(type_id, []) if i in sensors]
            for type_id in type_ids
        }

    async def parent_ids_among(self, ids: Sequence[int]) -> set[int]:
        """The sensors among `ids` that group others (a DHT22 over its temperature and
        humidity): they record nothing themselves."""
        return await self.repo.parent_ids_among(ids)

    async def find_sensors(
        self,
        refs: Iterable[SensorRef],
        *,
        type_id: int | None = None,
        also_ids: Sequence[int] = (),
    ) -> dict[SensorRef, SensorOut]:
        """Turn sensor references into sensors; a reference nothing matches is absent.

        A number (`55`, `"55"`) is a sensor id. Any other text is a `default_key`, looked up
        first among the sensors a device has: those of its kit (`type_id`, first) and
        `also_ids` (sensors it already has readings of). Keys repeat across kits ("temp" is
        sensor 4 on an SCK 1.0 and 12 on an SCK 1.1), so a key the device's sensors do not
        have is looked up in the whole catalogue, where it counts only if exactly one sensor
        has it.
        """
        wanted = list(dict.fromkeys(refs))
        by_id = await self.sensors_by_ids([n for r in wanted if (n := numeric_ref(r)) is not None])
        found: dict[SensorRef, SensorOut] = {}
        keys: list[str] = []
        for ref in wanted:
            number = numeric_ref(ref)
            if number is None:
                keys.append(str(ref))
            elif number in by_id:
                found[ref] = by_id[number]
        if not keys:
            return found
        kit = (await self.sensors_for_types([type_id]))[type_id] if type_id is not None else []
        extra = await self.sensors_by_ids(also_ids)
        candidates = [*kit, *(s for _, s in sorted(extra.items()) if s not in kit)]
        for key in keys:
            match = next((s for s in candidates if s.default_key == key), None)
            if match is None:
                anywhere = await self.repo.sensors_with_key(key)
                if len(anywhere) == 1:
                    match = (await self._sensors_out(anywhere))[0]
            if match is not None:
                found[key] = match
        return found

    async def find_sensor(
        self, ref: SensorRef, *, type_id: int | None = None, also_ids: Sequence[int] = ()
    ) -> SensorOut | None:
        """One sensor by id or default_key; see find_sensors."""
        return (await self.find_sensors([ref], type_id=type_id, also_ids=also_ids)).get(ref)

    # -- measurements ---------------------------------------------------------------------------

    async def list_measurements(self, query: ListQuery) -> Page[MeasurementOut]:
        """Fields: id, uuid, name, description, created_at, updated_at."""
        rows, total = await self.repo.measurements_page(query)
        return Page(items=[_measurement_out(m) for m in rows], total=total, query=query)

    async def get_measurement(self, measurement_id: int) -> MeasurementOut:
        found = await self.repo.measurements_by_ids([measurement_id])
        if measurement_id not in found:
            raise NotFound(entity="measurement", key=measurement_id, field="id")
        return _measurement_out(found[measurement_id])

    # -- kits -----------------------------------------------------------------------------------

    async def _kits_out(self, rows: Sequence[DeviceType]) -> list[KitOut]:
        sensors = await self.sensors_for_types([t.id for t in rows])
        return [
            KitOut(
                id=t.id,
                uuid=t.uuid,
                slug=t.slug,
                name=t.name,
                description=t.description,
                version=t.version,
                created_at=t.created_at,
                updated_at=t.updated_at,
                sensors=sensors[t.id],
            )
            for t in rows
        ]

    async def list_kits(self, query: ListQuery) -> Page[KitOut]:
        """Device types that carry sensors. Fields: id, uuid, slug, name, description, version,
        created_at, updated_at."""
        rows, total = await self.repo.kits_page(query)
        return Page(items=await self._kits_out(rows), total=total, query=query)

    async def get_kit(self, type_id: int) -> KitOut:
        row = await self.repo.kit(type_id)
        if row is None:
            raise NotFound(entity="device_type", key=type_id, field="id")
        return (await self._kits_out([row]))[0]

    # -- the built-in catalogue -----------------------------------------------------------------

    async def install_builtin(self) -> None:
        """Add whatever part of the built-in catalogue (builtin.py) is missing. Rows that exist
        are left as they are, so running it at every start is cheap and keeps local edits."""
        await self.repo.insert_missing(
            Measurement,
            [
                {
                    "id": m.id,
                    "uuid": builtin.stable_uuid("measurement", m.id),
                    "name": m.name,
                    "description": m.description,
                    "definition": m.definition,
                    "created_at": m.created_at,
                    "updated_at": m.created_at,
                }
                for m in builtin.MEASUREMENTS
            ],
        )
        # Parents first: a child's parent_id must point at an existing row.
        ordered = sorted(builtin.SENSORS, key=lambda s: (s.parent_id is not None, s.id))
        await self.repo.insert_missing(
            Sensor,
            [
                {
                    "id": s.id,
                    "uuid": builtin.stable_uuid("sensor", s.id),
                    "parent_id": s.parent_id,
                    "measurement_id": s.measurement_id,
                    "name": s.name,
                    "description": s.description,
                    "unit": s.unit,
                    "default_key": s.default_key,
                    "datasheet": s.datasheet,
                    "unit_definition": s.unit_definition,
                    "created_at": s.created_at,
                    "updated_at": s.created_at,
                }
                for s in ordered
            ],
        )
        links: list[dict[str, int]] = []
        for kit in builtin.KITS:
            type_id = await self._install_kit(kit)
            links += [{"device_type_id": type_id, "sensor_id": s} for s in kit.sensor_ids]
        await self.repo.insert_missing(DeviceTypeSensor, links)
        for table in ("measurements", "sensors", "device_types"):
            await self.repo.advance_id_sequence(table)

    async def _install_kit(self, kit: builtin.BuiltinKit) -> int:
        """The id of the kit's device type, creating it if needed. A type of the same name made
        before the catalogue existed is adopted; if another type holds the kit's id, the kit
        gets a fresh one."""
        await self.repo.insert_missing(
            DeviceType,
            [
                {
                    "id": kit.id,
                    "uuid": builtin.stable_uuid("kit", kit.id),
                    "slug": kit.slug,
                    "name": kit.name,
                    "description": kit.description,
                    "version": kit.version,
                    "created_at": kit.created_at,
                    "updated_at": kit.created_at,
                }
            ],
        )
        existing = await self.repo.type_by_slug_or_name(kit.slug, kit.name)
        if existing is not None:
            return existing.id
        fresh = DeviceType(
            slug=kit.slug,
            name=kit.name,
            description=kit.description,
            version=kit.version,
            created_at=kit.created_at,
            updated_at=kit.created_at,
        )
        await self.repo.add_type(fresh)
        return fresh.id
