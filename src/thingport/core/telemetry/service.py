"""The telemetry domain: batch ingest into series created on first use, last values, queries."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from thingport.bus.events import SeriesInfo, TelemetryReceived
from thingport.bus.protocol import EventBus
from thingport.core.accounts.schemas import Principal
from thingport.core.devices.service import DeviceRef, DevicesService
from thingport.core.telemetry.models import Series
from thingport.core.telemetry.query import (
    Aggregator,
    Downsample,
    TimeRange,
    apply_fill,
    check_bucket_count,
)
from thingport.core.telemetry.repository import SeriesRepository
from thingport.core.telemetry.schemas import QueryResult, Reading, SeriesOut, SeriesResult
from thingport.kit.errors import InvalidInput
from thingport.storage.engine import UnitOfWork
from thingport.storage.timeseries import PointRow, PointStore

MAX_KEY_LENGTH = 100
# Year 1970 to 9999: anything else is a unit mistake (seconds sent as microseconds, ...).
MAX_TS_MS = 253_402_300_799_999
# Far beyond any physical reading, and small enough that sums, squares and rates of stored
# values stay finite on every backend (PostgreSQL raises on float overflow, SQLite yields inf).
MAX_ABS_VALUE = 1e100


@dataclass(frozen=True, slots=True)
class CachedSeries:
    id: int
    uuid: str
    name: str


class SeriesCache:
    """(device_id, key) -> series, per process. Filled only after a commit, so it never holds an
    id that a rollback took back."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[int, str], CachedSeries] = {}

    def get(self, device_id: int, key: str) -> CachedSeries | None:
        return self._by_key.get((device_id, key))

    def put_all(self, device_id: int, series: dict[str, CachedSeries]) -> None:
        for key, entry in series.items():
            self._by_key[(device_id, key)] = entry

    def forget_device(self, device_id: int) -> None:
        for cache_key in [k for k in self._by_key if k[0] == device_id]:
            del self._by_key[cache_key]


def _series_out(series: Series) -> SeriesOut:
    return SeriesOut(
        id=series.id,
        uuid=series.uuid,
        device_id=series.device_id,
        key=series.key,
        name=series.name,
        unit=series.unit,
        last_value=series.last_value,
        last_ts=series.last_ts,
    )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class TelemetryService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        devices: DevicesService,
        store: PointStore,
        bus: EventBus,
        cache: SeriesCache,
    ) -> None:
        self.uow = uow
        self.repo = SeriesRepository(uow.session)
        self.devices = devices
        self.store = store
        self.bus = bus
        self.cache = cache

    # -- ingest ------------------------------------------------------------------------------

    async def ingest(
        self, principal: Principal, device_key: str, readings: Sequence[Reading]
    ) -> int:
        """Store readings sent by (or for) a device the principal may change."""
        device = await self.devices.resolve(principal, device_key, change=True)
        return await self.ingest_for(device, readings)

    async def ingest_for(self, device: DeviceRef, readings: Sequence[Reading]) -> int:
        """Store readings for an already authorised device (transports, virtual devices)."""
        return await self.ingest_many([(device, readings)])

    async def ingest_many(self, batches: Sequence[tuple[DeviceRef, Sequence[Reading]]]) -> int:
        """Store readings of several already authorised devices at once: one point write, one
        last-value update and one touch for all of them. An MQTT batch carries a few readings
        for each of many devices, and per device the round trips cost far more than the rows
        (benchmarks/README.md, MQTT).

        All or nothing: one bad reading refuses the whole call (InvalidInput, nothing written),
        so a caller that must keep the good part retries device by device."""
        if not batches:
            return 0
        if any(not readings for _, readings in batches):
            raise InvalidInput("no readings given", field="readings")
        arrival = now_ms()
        _validate(batches[0][1] if len(batches) == 1 else [r for _, rs in batches for r in rs])
        series = await self._series_for(batches)
        rows: list[PointRow] = []
        events: list[TelemetryReceived] = []
        for device, readings in batches:
            known = series[device.id]
            device_rows = [
                (known[r.key].id, r.ts_ms if r.ts_ms is not None else arrival, float(r.value))
                for r in readings
            ]
            rows.extend(device_rows)
            # Columnar: the event shares the rows list, nothing is built per point.
            events.append(
                TelemetryReceived(
                    device.id,
                    device.key,
                    tuple(
                        SeriesInfo(entry.id, key, entry.name, entry.uuid)
                        for key, entry in known.items()
                    ),
                    device_rows,
                )
            )
        await self.store.write(self.uow.session, rows)
        latest: dict[int, tuple[int, float]] = {}
        for series_id, ts, value in rows:
            if series_id not in latest or ts >= latest[series_id][0]:
                latest[series_id] = (ts, value)
        # In id order: concurrent writers then lock shared rows in the same order.
        await self.repo.set_last_values([(sid, ts, v) for sid, (ts, v) in sorted(latest.items())])
        await self.devices.touch_many([device.id for device, _ in batches])

        async def publish() -> None:
            await self.bus.publish(events)

        self.uow.after_commit(publish)
        return len(rows)

    async def define_series(
        self, device: DeviceRef, specs: Sequence[tuple[str, str, str | None, str | None]]
    ) -> None:
        """Create series ahead of data: (key, name, unit, uuid or None for a fresh one)."""
        known = {s.key for s in await self.repo.for_device(device.id)}
        new = [
            Series(device_id=device.id, key=key, name=name, unit=unit, **({"uuid": u} if u else {}))
            for key, name, unit, u in specs
            if key not in known
        ]
        await self.repo.add(new)

    async def _series_for(
        self, batches: Sequence[tuple[DeviceRef, Sequence[Reading]]]
    ) -> dict[int, dict[str, CachedSeries]]:
        """device id -> {key: series} for every reading, creating the missing series of all
        devices in one statement."""
        found: dict[int, dict[str, CachedSeries]] = {}
        missing: dict[tuple[int, str], Reading] = {}
        for device, readings in batches:
            known = found.setdefault(device.id, {})
            for reading in readings:
                if reading.key in known or (device.id, reading.key) in missing:
                    continue
                cached = self.cache.get(device.id, reading.key)
                if cached is not None:
                    known[reading.key] = cached
                else:
                    missing[(device.id, reading.key)] = reading
        if not missing:
            return found
        rows = await self.repo.create_missing(
            [(device_id, key, r.name or key, r.unit) for (device_id, key), r in missing.items()]
        )
        fresh: dict[int, dict[str, CachedSeries]] = {}
        for row in rows:
            entry = CachedSeries(row.id, row.uuid, row.name)
            fresh.setdefault(row.device_id, {})[row.key] = entry
            found[row.device_id][row.key] = entry

        async def remember() -> None:
            for device_id, entries in fresh.items():
                self.cache.put_all(device_id, entries)

        self.uow.after_commit(remember)
        return found

    # -- reading -----------------------------------------------------------------------------

    async def series_of_devices(self, device_ids: Sequence[int]) -> dict[int, list[SeriesOut]]:
        by_device: dict[int, list[SeriesOut]] = {device_id: [] for device_id in device_ids}
        for series in await self.repo.for_devices(device_ids):
            by_device[series.device_id].append(_series_out(series))
        return by_device

    async def query(
        self,
        principal: Principal | None,
        device_key: str,
        *,
        time_range: TimeRange,
        downsample: Downsample,
        series_uuids: Sequence[str] | None = None,
        series_keys: Sequence[str] | None = None,
        count_samples: bool = False,
    ) -> QueryResult:
        """Downsampled points of a device's series (all of them, or those named by uuid or by
        key). A key without a series yet selects nothing: no data is an answer, not an error.
        `count_samples`: also count the raw points of each series in the range (one more
        aggregate, over a single bucket). Each dialect parses its own parameters into the range
        and the downsampling; the limits that hold for all of them are checked here."""
        check_bucket_count(time_range, downsample)
        device = await self.devices.resolve(principal, device_key)

        all_series = [_series_out(s) for s in await self.repo.for_device(device.id)]
        if series_uuids is not None:
            by_uuid = {s.uuid: s for s in all_series}
            unknown = [u for u in series_uuids if u not in by_uuid]
            if unknown:
                raise InvalidInput(
                    f"unknown metric id(s) for device {device_key}: {', '.join(unknown)}",
                    field="metric_id",
                )
            selected = [by_uuid[u] for u in dict.fromkeys(series_uuids)]
        else:
            selected = all_series
        if series_keys is not None:
            by_key = {s.key: s for s in selected}
            selected = [by_key[k] for k in dict.fromkeys(series_keys) if k in by_key]

        buckets = await self.store.aggregate(
            self.uow.session,
            [s.id for s in selected],
            time_range.start_ms,
            time_range.end_ms,
            downsample.interval_ms,
            downsample.aggregator,
        )
        counts: dict[int, int] = {}
        if count_samples:
            # One bucket as wide as the range (it may straddle a bucket edge: sum them).
            whole = await self.store.aggregate(
                self.uow.session,
                [s.id for s in selected],
                time_range.start_ms,
                time_range.end_ms,
                time_range.end_ms - time_range.start_ms + 1,
                Aggregator.COUNT,
            )
            counts = {sid: int(sum(v for _, v in rows)) for sid, rows in whole.items()}
        return QueryResult(
            device=device,
            time_range=time_range,
            downsample=downsample,
            results=[
                SeriesResult(
                    s,
                    apply_fill(buckets.get(s.id, []), time_range, downsample),
                    counts.get(s.id, 0) if count_samples else None,
                )
                for s in selected
            ],
        )

    async def delete_device_data(self, device: DeviceRef) -> None:
        """Delete a device's points (no foreign key cascades to them) and its series; the
        series cache forgets the device once the deletion is committed."""
        series_ids = [s.id for s in await self.repo.for_device(device.id)]
        await self.store.delete_series(self.uow.session, series_ids)
        await self.repo.delete_for_device(device.id)
        cache = self.cache

        async def forget() -> None:
            cache.forget_device(device.id)

        self.uow.after_commit(forget)


_NUMBER_TYPES = frozenset({int, float})


def _validate(readings: Sequence[Reading]) -> None:
    """Reject a batch with any bad reading. Checks whole columns first (C loops, the ingest hot
    path); only a batch that fails them is walked reading by reading to say which one."""
    values = [r.value for r in readings]
    times = [r.ts_ms for r in readings if r.ts_ms is not None]
    fine = (
        all(0 < len(key) <= MAX_KEY_LENGTH for key in {r.key for r in readings})
        and set(map(type, values)) <= _NUMBER_TYPES
        and math.isfinite(sum(values))  # NaN and inf survive a sum
        and min(values) >= -MAX_ABS_VALUE
        and max(values) <= MAX_ABS_VALUE
        and (not times or (min(times) >= 0 and max(times) <= MAX_TS_MS))
    )
    if not fine:
        _explain(readings)


def _explain(readings: Sequence[Reading]) -> None:
    for index, reading in enumerate(readings):
        if not reading.key or len(reading.key) > MAX_KEY_LENGTH:
            raise InvalidInput(
                f"reading {index}: metric must be 1 to {MAX_KEY_LENGTH} characters",
                field="metric",
            )
        if type(reading.value) not in _NUMBER_TYPES or not math.isfinite(reading.value):
            raise InvalidInput(f"reading {index}: value must be a finite number", field="value")
        if abs(reading.value) > MAX_ABS_VALUE:
            raise InvalidInput(
                f"reading {index}: value out of range (at most {MAX_ABS_VALUE:g} in magnitude)",
                field="value",
            )
        if reading.ts_ms is not None and not 0 <= reading.ts_ms <= MAX_TS_MS:
            raise InvalidInput(f"reading {index}: time out of range", field="ts")
