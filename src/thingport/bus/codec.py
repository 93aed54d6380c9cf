"""The one wire format of events: JSON bytes a networked bus (Redis, NATS) can carry.

`{"kind": <Event.kind>, "event": {<the dataclass fields>}}`. orjson writes the dataclasses as
they are (telemetry points become `[series_id, ts_ms, value]` arrays, still columnar); pydantic
builds them back, with their nested types, from the class the kind names.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from thingport.bus.events import EVENT_TYPES, Event

_ADAPTERS: dict[str, TypeAdapter[Any]] = {cls.kind: TypeAdapter(cls) for cls in EVENT_TYPES}
if len(_ADAPTERS) != len(EVENT_TYPES):  # pragma: no cover - a copy-pasted kind
    raise RuntimeError("two event classes share a kind")


class UndecodableEvent(ValueError):
    """Bytes that are not an event this version knows (a newer peer, or garbage)."""


def encode(event: Event) -> bytes:
    if event.kind not in _ADAPTERS:
        raise TypeError(f"{type(event).__name__} is not a publishable event")
    return orjson.dumps({"kind": event.kind, "event": event})


def decode(data: bytes) -> Event:
    try:
        envelope = orjson.loads(data)
        adapter = _ADAPTERS[envelope["kind"]]
        event: Event = adapter.validate_python(envelope["event"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError) as error:
        raise UndecodableEvent(f"not an event: {error}") from error
    return event
