"""What the telemetry service takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from thingport.core.devices.service import DeviceRef
from thingport.core.telemetry.query import Downsample, TimeRange


class Reading(NamedTuple):
    """One value for one series of a device. `ts_ms` None means "now".

    A NamedTuple, not a frozen dataclass: ingest builds thousands per request and a tuple is
    several times cheaper to create.
    """

    key: str
    value: float
    ts_ms: int | None = None
    name: str | None = None  # display name when the series is created; defaults to key
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class SeriesOut:
    id: int
    uuid: str
    device_id: int
    key: str
    name: str
    unit: str | None
    last_value: float | None
    last_ts: int | None


@dataclass(frozen=True, slots=True)
class SeriesResult:
    series: SeriesOut
    points: list[tuple[int, float | None]]
    # Raw points in the range, when the query asked for it (`count_samples=True`).
    sample_size: int | None = None


@dataclass(frozen=True, slots=True)
class QueryResult:
    """What was answered: the range and downsampling are those the query ran with, so a dialect
    renders them from here, whatever its own spelling of them was."""

    device: DeviceRef
    time_range: TimeRange
    downsample: Downsample
    results: list[SeriesResult]
