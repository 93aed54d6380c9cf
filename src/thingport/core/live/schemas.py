"""What the live service takes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from thingport.bus.events import Event


@dataclass(frozen=True, slots=True)
class LiveFilter:
    """Which events a live subscription carries: those of these devices (public keys, as the
    dialects name them), of these event classes (None: all of them)."""

    device_keys: tuple[str, ...]
    event_types: frozenset[type[Event]] | None = None

    @classmethod
    def of(
        cls, *device_keys: str, event_types: Collection[type[Event]] | None = None
    ) -> LiveFilter:
        return cls(
            tuple(dict.fromkeys(device_keys)),
            None if event_types is None else frozenset(event_types),
        )
