"""All SQL of the catalogue: measurements, sensors, kits (device types carrying sensors)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.catalog.models import DeviceTypeSensor, Measurement, Sensor
from thingport.core.devices.models import DeviceType
from thingport.kit.listing import ListQuery
from thingport.storage.listing import filtered


def _columns(model: type[Any], *names: str) -> dict[str, ColumnElement[Any]]:
    return {name: model.__table__.c[name] for name in names}


# What lists may be filtered and sorted on: core field -> column.
SENSOR_COLUMNS = _columns(
    Sensor,
    "id",
    "uuid",
    "parent_id",
    "name",
    "description",
    "unit",
    "measurement_id",
    "created_at",
    "updated_at",
)
MEASUREMENT_COLUMNS = _columns(
    Measurement, "id", "uuid", "name", "description", "created_at", "updated_at"
)
KIT_COLUMNS = _columns(
    DeviceType,
    "id",
    "uuid",
    "slug",
    "name",
    "description",
    "version",
    "created_at",
    "updated_at",
)

# Tables whose rows the built-in catalogue inserts with explicit ids.
_SEQUENCED_TABLES = frozenset({"measurements", "sensors", "device_types"})

# A device type is a kit when it carries at least one sensor; plain types (a "thermostat"
# created by another dialect) are not kits.
_IS_KIT = exists().where(DeviceTypeSensor.device_type_id == DeviceType.id)


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _page(
        self, statement: Select[Any], columns: Mapping[str, ColumnElement[Any]], query: ListQuery
    ) -> tuple[list[Any], int]:
        # An explicit FROM: filtered() counts with `with_only_columns(count())`, which would
        # otherwise drop the table of an unfiltered `select(Model)` and count one row.
        table = columns["id"].table
        page, count = filtered(
            statement.select_from(table), columns, query, tie_breaker=columns["id"]
        )
        total = (await self.session.execute(count)).scalar_one()
        return list((await self.session.execute(page)).scalars().all()), int(total)

    # -- sensors and measurements -------------------------------------------------------------

    async def sensors_page(self, query: ListQuery) -> tuple[list[Sensor], int]:
        return await self._page(select(Sensor), SENSOR_COLUMNS, query)

    async def sensors_by_ids(self, ids: Sequence[int]) -> list[Sensor]:
        if not ids:
            return []
        result = await self.session.execute(
            select(Sensor).where(Sensor.id.in_(sorted(set(ids)))).order_by(Sensor.id)
        )
        return list(result.scalars().all())

    async def parent_ids_among(self, ids: Sequence[int]) -> set[int]:
        """Which of these sensors have children (and so only group them)."""
        if not ids:
            return set()
        result = await self.session.execute(
            select(Sensor.parent_id).where(Sensor.parent_id.in_(sorted(set(ids)))).distinct()
        )
        return {row for row in result.scalars().all() if row is not None}

    async def sensors_with_key(self, key: str) -> list[Sensor]:
        result = await self.session.execute(
            select(Sensor).where(Sensor.default_key == key).order_by(Sensor.id)
        )
        return list(result.scalars().all())

    async def measurements_page(self, query: ListQuery) -> tuple[list[Measurement], int]:
        return await self._page(select(Measurement), MEASUREMENT_COLUMNS, query)

    async def measurements_by_ids(self, ids: Sequence[int]) -> dict[int, Measurement]:
        if not ids:
            return {}
        result = await self.session.execute(
            select(Measurement).where(Measurement.id.in_(sorted(set(ids))))
        )
        return {m.id: m for m in result.scalars().all()}

    # -- kits -----------------------------------------------------------------------------------

    async def kits_page(self, query: ListQuery) -> tuple[list[DeviceType], int]:
        return await self._page(select(DeviceType).where(_IS_KIT), KIT_COLUMNS, query)

    async def kit(self, type_id: int) -> DeviceType | None:
        result = await self.session.execute(
            select(DeviceType).where(DeviceType.id == type_id, _IS_KIT)
        )
        return result.scalar_one_or_none()

    async def sensor_ids_for_types(self, type_ids: Sequence[int]) -> dict[int, list[int]]:
        by_type: dict[int, list[int]] = defaultdict(list)
        if not type_ids:
            return by_type
        result = await self.session.execute(
            select(DeviceTypeSensor.device_type_id, DeviceTypeSensor.sensor_id)
            .where(DeviceTypeSensor.device_type_id.in_(sorted(set(type_ids))))
            .order_by(DeviceTypeSensor.device_type_id, DeviceTypeSensor.sensor_id)
        )
        for type_id, sensor_id in result.all():
            by_type[type_id].append(sensor_id)
        return by_type

    # -- the built-in catalogue -----------------------------------------------------------------

    async def insert_missing(self, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows, skipping any that clash with an existing one (same id, uuid, name or
        slug). Safe when several processes start at once: none of them fails."""
        if not rows:
            return
        insert = (sqlite.insert if self._dialect == "sqlite" else postgresql.insert)(model)
        await self.session.execute(insert.values(list(rows)).on_conflict_do_nothing())

    async def type_by_slug_or_name(self, slug: str, name: str) -> DeviceType | None:
        for condition in (DeviceType.slug == slug, DeviceType.name == name):
            result = await self.session.execute(select(DeviceType).where(condition))
            found = result.scalar_one_or_none()
            if found is not None:
                return found
        return None

    async def add_type(self, device_type: DeviceType) -> None:
        self.session.add(device_type)
        await self.session.flush()

    async def advance_id_sequence(self, table: str) -> None:
        """After rows were inserted with explicit ids, move PostgreSQL's id sequence past them,
        so the next row inserted without an id does not collide. Never moves it back."""
        if table not in _SEQUENCED_TABLES:
            raise ValueError(f"not a catalogue table: {table!r}")
        if self._dialect != "postgresql":
            return  # SQLite picks max(id) + 1 by itself
        await self.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, 'id'), m) "
                f"FROM (SELECT max(id) AS m FROM {table}) AS t "  # table: checked above
                "WHERE m > coalesce("
                "pg_sequence_last_value(pg_get_serial_sequence(:table, 'id')::regclass), 0)"
            ),
            {"table": table},
        )

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name
