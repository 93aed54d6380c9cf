"""bus/codec.py: every event class survives the trip to JSON bytes and back."""

from __future__ import annotations

import orjson
import pytest

from thingport.bus.codec import UndecodableEvent, decode, encode
from thingport.bus.events import (
    EVENT_TYPES,
    CommandUpdated,
    DeviceConnected,
    DeviceCreated,
    DeviceDeleted,
    DeviceDisconnected,
    DeviceUpdated,
    Event,
    SeriesInfo,
    TelemetryReceived,
)

SAMPLES: list[Event] = [
    TelemetryReceived(
        3,
        "BASE-1",
        (SeriesInfo(11, "battery", "Battery", "u-11"), SeriesInfo(12, "t", "Temp °C", "u-12")),
        [(11, 1_399_588_748_000, 78.40191068442397), (12, 1_399_588_748_000, -0.0), (11, 0, 1e100)],
    ),
    DeviceCreated(3, "BASE-1", owner_id=5),
    DeviceUpdated(3, "BASE-1", fields=("name", "public")),
    DeviceUpdated(3, "BASE-1", fields=()),
    DeviceDeleted(3, "BASE-1"),
    DeviceConnected(3, "BASE-1"),
    DeviceDisconnected(3, "BASE-1"),
    DeviceDisconnected(4, "SUB-1", gateway="BASE-1"),
    CommandUpdated(3, "BASE-1", command_id="a" * 32, state="expired"),
]


def test_the_samples_cover_every_event_class() -> None:
    assert {type(event) for event in SAMPLES} == set(EVENT_TYPES)
    assert len({cls.kind for cls in EVENT_TYPES}) == len(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip(event: Event) -> None:
    data = encode(event)
    assert isinstance(data, bytes)
    back = decode(data)
    assert type(back) is type(event)
    assert back == event


def test_telemetry_stays_columnar_on_the_wire() -> None:
    """Points travel as [series_id, ts_ms, value] arrays, series once per event; they come
    back as tuples of the right types (ints stay ints, values floats)."""
    event = SAMPLES[0]
    assert isinstance(event, TelemetryReceived)
    wire = orjson.loads(encode(event))
    assert wire["kind"] == "telemetry"
    assert wire["event"]["points"] == [list(point) for point in event.points]
    assert len(wire["event"]["series"]) == 2
    back = decode(encode(event))
    assert isinstance(back, TelemetryReceived)
    assert all(type(p) is tuple for p in back.points)
    assert [tuple(map(type, p)) for p in back.points] == [(int, int, float)] * 3


def test_integral_values_come_back_as_floats() -> None:
    raw = b'{"kind":"telemetry","event":{"device_id":1,"device_key":"k","series":[],'
    raw += b'"points":[[1,2,3]]}}'
    back = decode(raw)
    assert isinstance(back, TelemetryReceived)
    assert back.points == [(1, 2, 3.0)]
    assert type(back.points[0][2]) is float


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"kind":"device.exploded","event":{"device_id":1,"device_key":"k"}}',
        b'{"kind":"device.deleted"}',
        b'{"kind":"device.deleted","event":{"device_id":"one","device_key":"k"}}',
        b'{"kind":"command.updated","event":{"device_id":1,"device_key":"k"}}',
    ],
)
def test_what_is_not_an_event_is_refused(data: bytes) -> None:
    with pytest.raises(UndecodableEvent):
        decode(data)


def test_the_base_class_is_not_publishable() -> None:
    with pytest.raises(TypeError):
        encode(Event(1, "k"))
