"""All SQL of the series table (points go through storage.timeseries.PointStore)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from thingport.core.telemetry.models import Series
from thingport.storage.fastpath import driver_of

# Once per ingest batch, so it goes through the driver fast path.
_SET_LAST = (
    "UPDATE series SET last_value = ?, last_ts = ? "
    "WHERE id = ? AND (last_ts IS NULL OR last_ts <= ?)"
)


class SeriesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_device(self, device_id: int, keys: Sequence[str] | None = None) -> list[Series]:
        query = select(Series).where(Series.device_id == device_id)
        if keys is not None:
            query = query.where(Series.key.in_(keys))
        result = await self.session.execute(query.order_by(Series.id))
        return list(result.scalars().all())

    async def delete_for_device(self, device_id: int) -> None:
        await self.session.execute(delete(Series).where(Series.device_id == device_id))

    async def for_devices(self, device_ids: Sequence[int]) -> list[Series]:
        if not device_ids:
            return []
        result = await self.session.execute(
            select(Series).where(Series.device_id.in_(device_ids)).order_by(Series.id)
        )
        return list(result.scalars().all())

    async def create_missing(
        self, specs: Sequence[tuple[int, str, str, str | None]]
    ) -> list[Series]:
        """Create (device_id, key, name, unit) series that do not exist yet and return all of
        them, for any number of devices in one INSERT and one SELECT.

        INSERT ... ON CONFLICT DO NOTHING, because two batches may bring the same new metric at
        the same time: the loser must find the winner's row, not fail the whole batch.
        """
        if not specs:
            return []
        insert = (sqlite.insert if self._dialect == "sqlite" else postgresql.insert)(Series)
        await self.session.execute(
            insert.values(
                [
                    {
                        "device_id": device_id,
                        "key": key,
                        "name": name,
                        "unit": unit,
                        "uuid": str(uuid.uuid4()),
                    }
                    for device_id, key, name, unit in specs
                ]
            ).on_conflict_do_nothing(index_elements=["device_id", "key"])
        )
        wanted = {(device_id, key) for device_id, key, _, _ in specs}
        # Devices x keys may select a few series nobody asked for; they are dropped here.
        result = await self.session.execute(
            select(Series)
            .where(
                Series.device_id.in_(sorted({device_id for device_id, _ in wanted})),
                Series.key.in_(sorted({key for _, key in wanted})),
            )
            .order_by(Series.id)
        )
        return [s for s in result.scalars().all() if (s.device_id, s.key) in wanted]

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def add(self, series: Sequence[Series]) -> None:
        self.session.add_all(series)
        await self.session.flush()

    async def set_last_values(self, latest: Sequence[tuple[int, int, float]]) -> None:
        """Record (series_id, ts, value) as last value unless a later point is already known."""
        if not latest:
            return
        driver = await driver_of(self.session)
        await driver.executemany(_SET_LAST, [(val, ts, sid, ts) for sid, ts, val in latest])
