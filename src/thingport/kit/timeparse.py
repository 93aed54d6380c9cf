"""Time expressions shared by every API dialect, following OpenTSDB's conventions.

Accepted are ``now``, relative times such as ``1h-ago``, epoch numbers (their digit count tells
seconds from milliseconds), ISO 8601, OpenTSDB's ``yyyy/MM/dd-HH:mm:ss`` and common free-form
dates. Everything is UTC unless the text carries an offset; results are epoch milliseconds.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from dateutil import parser as dateutil_parser

__all__ = ["UNIT_MS", "TimeParseError", "format_iso", "parse_duration", "parse_time"]


class TimeParseError(ValueError):
    """User-supplied time or duration text that cannot be understood; the message says why."""


_DAY_MS = 86_400_000
UNIT_MS: dict[str, int] = {
    "ms": 1,
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": _DAY_MS,
    "w": 7 * _DAY_MS,
    # OpenTSDB gives months and years a fixed length so that durations are plain arithmetic.
    "n": 30 * _DAY_MS,
    "y": 365 * _DAY_MS,
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXAMPLES = (
    "expected 'now', a relative time such as '1h-ago', an epoch timestamp, "
    "or a date such as '2014-05-01T10:00:00Z'"
)


class _Invalid(Exception):
    """Internal: why a piece of text was rejected; the public functions add the text itself.

    Deliberately not a ValueError, so it cannot be confused with errors from the libraries used.
    """


# Sign, amount and unit are split loosely so each way of getting them wrong gets its own message.
_DURATION = re.compile(r"(?P<sign>[-+]?)(?P<amount>[0-9.]*)(?P<unit>.*)", re.DOTALL)


def _duration_ms(text: str, units: dict[str, int]) -> int:
    unit_list = ", ".join(units)
    if not text:
        raise _Invalid("it is empty")
    if any(char.isspace() for char in text):
        raise _Invalid("it must not contain whitespace (write e.g. '5m')")
    match = _DURATION.fullmatch(text)
    assert match is not None  # every group may be empty, so any string matches
    sign, amount, unit = match["sign"], match["amount"], match["unit"]
    if not amount:
        raise _Invalid(f"the amount is missing (write e.g. '5{unit or 'm'}')")
    if sign or "." in amount or int(amount) == 0:
        raise _Invalid("the amount must be a positive whole number")
    if not unit:
        raise _Invalid(f"the unit is missing (use {unit_list})")
    # The whole suffix is looked up, so '5ms' can never be read as 5 minutes plus junk.
    if unit not in units:
        raise _Invalid(f"unknown unit {unit!r} (use {unit_list})")
    return int(amount) * units[unit]


def parse_duration(text: str) -> int:
    """Return the milliseconds in ``"<positive int><unit>"``, e.g. ``"15m"`` -> 900000."""
    try:
        return _duration_ms(text.strip(), UNIT_MS)
    except _Invalid as error:
        raise TimeParseError(f"{text!r} is not a valid duration: {error}") from None


# Up to 10 digits are seconds (good until 2286), 11..13 are milliseconds: OpenTSDB's rule.
_EPOCH_NUMBER = re.compile(r"(?P<sign>-?)(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")


def _epoch_ms(match: re.Match[str]) -> int:
    whole, fraction = match["whole"], match["fraction"]
    if match["sign"]:
        raise _Invalid("negative epoch timestamps are not accepted")
    if len(whole) > 13:
        raise _Invalid(
            "an epoch timestamp has at most 10 digits (seconds) or 13 digits (milliseconds)"
        )
    if len(whole) > 10:
        if fraction is not None:
            raise _Invalid("a fractional epoch timestamp must be in seconds")
        return int(whole)
    # Decimal keeps "1399322129.0005" exact where a float would not.
    seconds = Decimal(match.group(0))
    return int((seconds * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# URL decoding turns the '+' of "10:00:00+02:00" into a space. Only a trailing HH:MM / HHMM that
# directly follows a time of day and is a plausible offset counts, so the year at the end of a
# ctime-style "Thu May  1 10:00:00 2014" is left alone.
_SPACED_OFFSET = re.compile(
    r"(?P<head>.*[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)"  # ...a time of day
    r" (?P<hours>[0-9]{2}):?(?P<minutes>[0-9]{2})",  # the space that was a '+', then HH:MM
    re.DOTALL,
)


def _restore_plus(text: str) -> str:
    match = _SPACED_OFFSET.fullmatch(text)
    if match and int(match["hours"]) <= 14 and int(match["minutes"]) <= 59:
        return f"{match['head']}+{match['hours']}:{match['minutes']}"
    return text


_OPENTSDB_FORMATS = (
    "%Y/%m/%d-%H:%M:%S",
    "%Y/%m/%d-%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)

# dateutil fills missing parts from a default. Parsing with two defaults that differ in every date
# part exposes text that lacks part of its date ("May 1", "10:00") instead of silently completing
# it; both defaults are midnight, so a date without a time means the start of that day.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    # Called by dateutil for every parse, which keeps it from guessing zones from the host's locale.
    if offset is not None:  # numeric offsets, and UTC/GMT/Z which dateutil maps to 0
        return timezone(timedelta(seconds=offset))
    if name is None:
        return None
    raise _Invalid(f"unknown time zone {name!r} (use UTC or a numeric offset such as +02:00)")


def _parse_free_form(text: str) -> datetime:
    parsed: list[datetime] = []
    for default in _DEFAULTS:
        try:
            parsed.append(dateutil_parser.parse(text, default=default, tzinfos=_zone))
        except dateutil_parser.ParserError as error:
            if parsed:  # only the second default failed, e.g. day 30 of its February
                break
            template = str(error.args[0]) if error.args else ""
            if template.endswith(": %s") and not template.startswith(("Unknown", "String")):
                raise _Invalid(template.removesuffix(": %s")) from None  # "month must be..."
            raise _Invalid(_EXAMPLES) from None
        except (ValueError, OverflowError):
            raise _Invalid("the date or its time zone offset is out of range") from None
    if len(parsed) < 2 or parsed[0] != parsed[1]:
        raise _Invalid("it needs a full date with year, month and day")
    return parsed[0]


def _parse_absolute(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for layout in _OPENTSDB_FORMATS:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            pass
    return _parse_free_form(text)


def parse_time(text: str, *, now_ms: int | None = None) -> int:
    """Return the epoch milliseconds (UTC) that ``text`` denotes; see the module docstring.

    ``now_ms`` is the reference for ``now`` and ``<duration>-ago``; it defaults to the clock.
    """
    stripped = text.strip()
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if stripped.lower().endswith("-ago"):
        try:
            return now - _duration_ms(stripped[: -len("-ago")], UNIT_MS)
        except _Invalid as error:
            raise TimeParseError(f"{text!r} is not a valid relative time: {error}") from None
    try:
        return _absolute_ms(stripped, now)
    except _Invalid as error:
        raise TimeParseError(f"{text!r} is not a valid time: {error}") from None


def _absolute_ms(text: str, now: int) -> int:
    if not text:
        raise _Invalid("it is empty")
    if text.lower() == "now":
        return now
    if (epoch := _EPOCH_NUMBER.fullmatch(text)) is not None:
        return _epoch_ms(epoch)
    moment = _parse_absolute(_restore_plus(text))
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    microseconds = (moment - _EPOCH) // timedelta(microseconds=1)
    return (microseconds + 500) // 1000  # nearest millisecond, halves up


def format_iso(ms: int) -> str:
    """Format epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS`` in UTC, the Smart Mocha date format.

    Sub-second parts are dropped (floored, also before 1970).
    """
    # Adding a timedelta avoids utcfromtimestamp's platform limits and its deprecation warning.
    moment = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="seconds")
