"""Bus backends by URL scheme. A networked backend registers itself here, nothing else changes."""

from __future__ import annotations

from collections.abc import Callable

from thingport.bus.memory import MemoryBus
from thingport.bus.protocol import EventBus

BACKENDS: dict[str, Callable[[str], EventBus]] = {
    "memory": lambda _url: MemoryBus(),
}


def build_bus(url: str) -> EventBus:
    scheme = url.split("://", 1)[0]
    try:
        return BACKENDS[scheme](url)
    except KeyError:
        known = ", ".join(f"{name}://" for name in sorted(BACKENDS))
        raise ValueError(f"unknown event bus {url!r}; available: {known}") from None
