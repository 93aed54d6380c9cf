"""What the SmartCitizen sub-app keeps between requests, owned by that app instance.

Kept on the app (not in module globals) so that two platform apps in one process, as the tests
build, never share a cached map or a rejection count.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

WORLD_MAP_SECONDS = 60.0
Entries = list[dict[str, Any]]


@dataclass
class WorldMapCache:
    """The world map is the same for every caller and expensive: built at most once a minute."""

    body: Entries = field(default_factory=list)
    built_at: float | None = None

    async def get(self, build: Callable[[], Awaitable[Entries]]) -> Entries:
        now = time.monotonic()
        if self.built_at is None or self.built_at <= now - WORLD_MAP_SECONDS:
            self.body = await build()
            self.built_at = now
        return self.body


@dataclass
class SmartCitizenState:
    world_map: WorldMapCache = field(default_factory=WorldMapCache)
    # Why legacy /add readings were dropped, by reason: that endpoint answers 200 whatever
    # happens, so this and the log are the only trace of a kit whose data goes nowhere.
    legacy_rejections: Counter[str] = field(default_factory=Counter)


def install_state(app: FastAPI) -> SmartCitizenState:
    state = SmartCitizenState()
    app.state.smartcitizen = state
    return state


def state_of(app: FastAPI) -> SmartCitizenState:
    state = app.state.smartcitizen
    assert isinstance(state, SmartCitizenState), "build_app installs the state"
    return state


def request_state(request: Request) -> SmartCitizenState:
    return state_of(request.app)


StateDep = Annotated[SmartCitizenState, Depends(request_state)]
