"""Core objects -> Smart Mocha JSON, and Smart Mocha input -> core input."""

from __future__ import annotations

import math
from datetime import datetime

from thingport.core.devices.schemas import DeviceOut, DeviceUpdate
from thingport.core.telemetry.schemas import QueryResult, SeriesOut
from thingport.dialects.smartmocha import schemas
from thingport.kit.timeparse import format_iso


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def metric(series: SeriesOut) -> schemas.Metric:
    return schemas.Metric(
        id=series.uuid,
        last_seen=format_iso(series.last_ts) if series.last_ts is not None else None,
        last_val=repr(series.last_value) if series.last_value is not None else None,
        name=series.name,
    )


def device(out: DeviceOut, series: list[SeriesOut]) -> schemas.Device:
    return schemas.Device(
        attached_devices=out.children,
        created_at=iso(out.created_at) or "",
        deployed=out.deployed,
        description=out.description,
        firmware_version=out.firmware_version,
        id=out.key,
        last_seen=iso(out.last_seen_at),
        location=out.address,
        metrics=[metric(s) for s in series],
        name=out.name,
        status=out.status,
        type=out.type,
        updated_at=iso(out.updated_at) or "",
    )


def device_update(body: schemas.DeviceUpdate) -> DeviceUpdate:
    sent = body.model_fields_set
    changes = {
        "name": body.name,
        "description": body.description,
        "address": body.location,
        "deployed": body.deployed,
        "firmware_version": body.firmware_version,
    }
    wire_name = {"address": "location"}
    return DeviceUpdate.model_validate(
        {core: value for core, value in changes.items() if wire_name.get(core, core) in sent}
    )


def _seconds(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _value(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def query_response(result: QueryResult, *, rollup: str, arrays: bool) -> schemas.QueryResponse:
    items = []
    for series_result in result.results:
        data: dict[str, float | None] | list[tuple[int | float, float | None]]
        if arrays:
            data = [(_seconds(ts), _value(v)) for ts, v in series_result.points]
        else:
            data = {str(_seconds(ts)): _value(v) for ts, v in series_result.points}
        items.append(
            schemas.QueryResultItem(
                data=data,
                device=result.device.key,
                metric=series_result.series.name,
                name=result.device.name,
                ts=series_result.series.uuid,
            )
        )
    return schemas.QueryResponse(
        end=format_iso(result.time_range.end_ms),
        results=items,
        rollup=rollup,
        start=format_iso(result.time_range.start_ms),
    )
