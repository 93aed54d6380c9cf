"""SmartCitizen's readings rollups -> the core's typed query values.

`rollup=<n><unit>` with the units `y M w d h m s ms`: case matters, `M` is a month (30 days, as
OpenTSDB's `n`) and `m` a minute. `function` names the aggregator, `all_intervals=true` asks for
every bucket of the range, empty ones as null.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from thingport.core.telemetry.query import Aggregator, Downsample, Fill, check_interval
from thingport.dialects.smartcitizen.errors import BadParameter
from thingport.kit.errors import InvalidInput
from thingport.kit.timeparse import UNIT_MS, TimeParseError, parse_time

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


# -- the GET readings parameters, in the live service's words --------------------------------

DEFAULT_WINDOW = timedelta(weeks=6)
DATE_HELP = "ISO 8601 date or time, or epoch seconds"
_DATE_MESSAGE = (
    "The {name} parameter must be an ISO8601 format date or datetime or an integer number of "
    "seconds since the start of the UNIX epoch."
)


def rollup_param(text: str, name: str) -> str:
    """`rollup` (or `relative`) as given, once it matches ROLLUP."""
    if not ROLLUP.fullmatch(text):
        raise BadParameter(
            f"The {name} parameter must be a whole number followed by a unit: y (years), "
            "M (months), w (weeks), d (days), h (hours), m (minutes), s (seconds) or "
            f"ms (milliseconds), e.g. 1h; got {text!r}",
            field=name,
        )
    return text


def function_param(text: str | None) -> str:
    function = (text or "").strip() or "avg"
    if function not in FUNCTIONS:
        raise BadParameter(
            f"The function parameter must be one of {', '.join(FUNCTIONS)}; got {function!r}",
            field="function",
        )
    return function


def limit_param(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    if not text.strip().isdigit() or int(text) == 0:
        raise BadParameter(
            f"The limit parameter must be a positive whole number; got {text!r}", field="limit"
        )
    return int(text)


def window_ms(relative: str | None) -> int:
    """How far before `to` the range starts when `from` is absent."""
    text = (relative or "").strip()
    if text:
        return duration_ms(rollup_param(text, "relative"))
    return int(DEFAULT_WINDOW.total_seconds() * 1000)


def date_param(text: str | None, name: str, now: int) -> int | None:
    """`from` / `to` as epoch ms; None when absent."""
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    try:
        if len(stripped) == 8 and stripped.isdigit():
            # A compact date (20240102), which the live service's Time.parse reads first.
            moment = datetime.strptime(stripped, "%Y%m%d").replace(tzinfo=UTC)
            ms = int(moment.timestamp() * 1000)
        elif stripped.isdigit():
            # Other digits are epoch seconds, as the live service documents (parse_time would
            # read 11 to 13 digits as milliseconds).
            ms = int(stripped) * 1000
        else:
            ms = parse_time(stripped, now_ms=now)
    except (TimeParseError, ValueError):
        raise BadParameter(_DATE_MESSAGE.format(name=name), field=name) from None
    if not 0 <= ms < 253_402_300_800_000:  # the years 1970 to 9999
        raise BadParameter(_DATE_MESSAGE.format(name=name), field=name)
    return ms
