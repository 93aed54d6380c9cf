"""SmartCitizen's readings rollups -> the core's typed query values.

`rollup=<n><unit>` with the units `y M w d h m s ms`: case matters, `M` is a month (30 days, as
OpenTSDB's `n`) and `m` a minute. `function` names the aggregator, `all_intervals=true` asks for
every bucket of the range, empty ones as null.
"""

from __future__ import annotations

import re

from thingport.core.telemetry.query import Aggregator, Downsample, Fill, check_interval
from thingport.kit.errors import InvalidInput
from thingport.kit.timeparse import UNIT_MS

# Kairos' aggregators that the core's rollups also have.
FUNCTIONS = ("avg", "max", "min", "sum", "count", "first", "last", "dev")
ROLLUP = re.compile(r"([1-9][0-9]*)(ms|y|M|w|d|h|m|s)")
_UNIT_MS = {
    "ms": UNIT_MS["ms"],
    "s": UNIT_MS["s"],
    "m": UNIT_MS["m"],
    "h": UNIT_MS["h"],
    "d": UNIT_MS["d"],
    "w": UNIT_MS["w"],
    "M": UNIT_MS["n"],
    "y": UNIT_MS["y"],
}


def duration_ms(text: str) -> int:
    """The milliseconds of a rollup (or `relative`) text that matches ROLLUP."""
    match = ROLLUP.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a SmartCitizen rollup")
    return int(match[1]) * _UNIT_MS[match[2]]


def downsample(rollup: str, function: str, *, all_intervals: bool) -> Downsample:
    """A checked `rollup` (ROLLUP) and `function` (FUNCTIONS) as the core's downsampling."""
    interval_ms = duration_ms(rollup)
    try:
        check_interval(interval_ms, given=rollup)
    except InvalidInput as error:
        # Clients have always seen the limit named after the OpenTSDB spelling of their rollup
        # (the core once parsed it from that text): the message stays as it was.
        spec = f"{rollup}-{function}{'-null' if all_intervals else ''}"
        raise InvalidInput(f"rollup {spec!r}: {error.message}", field="rollup") from error
    return Downsample(interval_ms, Aggregator(function), Fill.NULL if all_intervals else Fill.NONE)
