"""Virtual devices: devices flagged `virtual` get a reading per series every interval.

Each series takes a bounded random walk inside the range stored in the device's properties
(`{"simulation": {"Temperature": [16, 28]}}`), starting from its last value.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from thingport.core.devices.service import DeviceRef
from thingport.core.telemetry.schemas import Reading
from thingport.platform import Platform

log = logging.getLogger(__name__)

DEFAULT_RANGE = (0.0, 100.0)
TICK_S = 1.0


def next_value(last: float | None, low: float, high: float, rng: random.Random) -> float:
    if last is None or not low <= last <= high:
        last = (low + high) / 2
    step = (high - low) * 0.02 * rng.uniform(-1, 1)
    return round(min(high, max(low, last + step)), 3)


class Simulator:
    def __init__(self, platform: Platform, *, seed: int | None = None) -> None:
        self.platform = platform
        self.rng = random.Random(seed)
        self._due: dict[int, float] = {}

    async def tick(self) -> int:
        """Produce the readings that are due now; returns how many points were stored."""
        stored = 0
        async with self.platform.core() as core:
            devices = await core.devices.virtual_devices()
            series = await core.telemetry.series_of_devices([d.ref.id for d in devices])
        now = time.monotonic()
        for device in devices:
            if self._due.get(device.ref.id, 0.0) > now:
                continue
            self._due[device.ref.id] = now + (device.interval_s or 5.0)
            last_values = {s.key: s.last_value for s in series[device.ref.id]}
            stored += await self._emit(device.ref, device.ranges, last_values)
        return stored

    async def _emit(
        self,
        device: DeviceRef,
        ranges: dict[str, tuple[float, float]],
        last: dict[str, float | None],
    ) -> int:
        keys = list(ranges) or list(last) or ["value"]
        readings = []
        for key in keys:
            low, high = ranges.get(key, DEFAULT_RANGE)
            readings.append(Reading(key=key, value=next_value(last.get(key), low, high, self.rng)))
        async with self.platform.core() as core:
            return await core.telemetry.ingest_for(device, readings)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad tick must not stop the demo for good
                log.exception("virtual device tick failed")
            await asyncio.sleep(TICK_S)
