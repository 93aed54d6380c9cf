"""Thingport's own topic convention: JSON under `thingport/v1/devices/{device_key}/...`.

The payload parsers and the checks on keys, sizes and values are public because the gateway
convention carries the same payloads and the Cayenne one the same limits; keeping them in one
place keeps the three conventions rejecting bad input for the same reasons. TOPICS.md documents
the wire format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from thingport.core.devices.schemas import KEY_PATTERN
from thingport.core.telemetry.query import reading_time
from thingport.core.telemetry.schemas import Reading
from thingport.core.telemetry.service import MAX_ABS_VALUE, MAX_KEY_LENGTH, MAX_TS_MS
from thingport.kit.errors import InvalidInput
from thingport.transports.mqtt.codec import (
    MAX_PAYLOAD_BYTES,
    ClientIdentity,
    CodecError,
    CommandAnswerIn,
    CommandOut,
    Inbound,
    PresenceIn,
    PropertiesIn,
    TelemetryIn,
)

PREFIX = "thingport/v1/devices/"
DEVICE_KINDS = ("telemetry", "properties", "responses", "status")
_KINDS_TEXT = "telemetry, properties, responses or status"

_KEY = re.compile(KEY_PATTERN)
# Command ids travel inside topics' payloads and Cayenne's comma-separated text, so they are held
# to the characters of a device key: no separators, no wildcards, no whitespace.
_COMMAND_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_ANSWER_FIELDS = frozenset({"id", "ok", "payload", "error"})
# A status payload as text, any case (devices and brokers' Will tools differ), and as JSON.
_STATUS_TEXT = {b"online": True, b"offline": False}
_STATUS_SHAPE = "'online', 'offline' or {\"online\": true|false}"
# Longer time texts are no date anyone writes; the cap keeps dateutil away from huge strings.
_MAX_TIME_CHARS = 64


def show(text: str, limit: int = 80) -> str:
    """A topic or token quoted for an error message, cut so a huge one cannot flood the log."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def kind_of(value: object) -> str:
    """The JSON name of a decoded value's type, for messages (never its possibly huge repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    names = {dict: "an object", list: "a list", str: "a text", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def number_text(value: int | float) -> str:
    # repr() of an int beyond 4300 digits raises ValueError instead of printing.
    return repr(value) if isinstance(value, float) or abs(value) < 10**100 else "a huge integer"


def check_size(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CodecError(
            f"payload of {len(payload)} bytes exceeds the limit of {MAX_PAYLOAD_BYTES} bytes"
        )


def is_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def check_key(key: str, what: str = "device key") -> str:
    if not key:
        raise CodecError(f"the {what} is empty")
    if len(key) > 64:
        raise CodecError(f"the {what} {show(key, 20)} is longer than 64 characters")
    if not is_key(key):
        raise CodecError(
            f"the {what} {show(key)} is not a valid key (letters, digits and '_.:-', "
            "starting with a letter or digit)"
        )
    return key


def check_command_id(command_id: object, where: str = "command id") -> str:
    if not isinstance(command_id, str) or _COMMAND_ID.fullmatch(command_id) is None:
        shown = show(command_id) if isinstance(command_id, str) else kind_of(command_id)
        raise CodecError(f"{where} {shown} is not 1 to 64 letters, digits or '_.:-'")
    return command_id


def check_value(value: object, where: str) -> float:
    """A reading's value: a finite JSON number (not true/false) the time-series store accepts."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"{where}: expected a number, got {kind_of(value)}")
    # One comparison rejects NaN, the infinities and what the store would refuse as too large.
    if not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
        raise CodecError(
            f"{where}: {number_text(value)} is not finite or exceeds {MAX_ABS_VALUE:g}"
        )
    return float(value)


def check_metric(key: str, where: str) -> str:
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise CodecError(f"{where}: a metric name must be 1 to {MAX_KEY_LENGTH} characters")
    if not key.isprintable():
        raise CodecError(f"{where}: the metric name {show(key)} contains control characters")
    return key


def load_json(payload: bytes) -> Any:
    check_size(payload)
    if not payload:
        raise CodecError("the payload is empty")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        # Told apart only on the error path, so valid payloads are not decoded twice.
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            raise CodecError("the payload is not UTF-8 text") from None
        raise CodecError(f"the payload is not valid JSON: {error}") from None


def parse_time(value: object, where: str, now_ms: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CodecError(f"{where}: a time is epoch seconds or ms or a text, not {kind_of(value)}")
    if isinstance(value, str) and len(value) > _MAX_TIME_CHARS:
        raise CodecError(f"{where}: a time text is at most {_MAX_TIME_CHARS} characters")
    try:
        ts = reading_time(value, now_ms=now_ms, field=where)
    except (InvalidInput, ValueError, OverflowError) as error:
        raise CodecError(str(error)) from None
    if ts is None or not 0 <= ts <= MAX_TS_MS:
        raise CodecError(f"{where}: the time is before 1970 or after 9999")
    return ts


def parse_telemetry(document: Any, now_ms: int, where: str = "telemetry") -> list[Reading]:
    """`{metric: number}`, `{"ts": t, "values": {...}}`, or a non-empty list of either."""
    if isinstance(document, list):
        if not document:
            raise CodecError(f"{where}: the list is empty")
        readings: list[Reading] = []
        for index, entry in enumerate(document):
            readings.extend(_entry(entry, f"{where}[{index}]", now_ms))
        return readings
    return _entry(document, where, now_ms)


def _entry(entry: Any, where: str, now_ms: int) -> list[Reading]:
    if not isinstance(entry, dict):
        raise CodecError(f"{where}: expected an object of metric to number, got {kind_of(entry)}")
    ts: int | None = None
    values: Any = entry
    # "ts" and "values" are reserved: a metric called "ts" would almost always be a timestamp
    # sent in the wrong shape, and storing it as a series would hide the mistake.
    if "ts" in entry or "values" in entry:
        extra = sorted(entry.keys() - {"ts", "values"})
        if extra:
            raise CodecError(
                f"{where}: unexpected field {show(extra[0])} next to ts/values "
                "(metrics go inside 'values')"
            )
        values = entry.get("values")
        if not isinstance(values, dict):
            raise CodecError(f"{where}.values: expected an object, got {kind_of(values)}")
        ts = parse_time(entry.get("ts"), f"{where}.ts", now_ms)
        where = f"{where}.values"
    if not values:
        raise CodecError(f"{where}: no values")
    return [
        Reading(check_metric(key, where), check_value(value, f"{where}.{key}"), ts)
        for key, value in values.items()
    ]


def parse_properties(document: Any, where: str = "properties") -> dict[str, Any]:
    if not isinstance(document, dict):
        raise CodecError(f"{where}: expected an object, got {kind_of(document)}")
    if not document:
        raise CodecError(f"{where}: the object is empty, nothing to merge")
    for key in document:
        check_metric(key, where)  # same bounds as a metric name: short, printable
    return document


def parse_answer(document: Any, device_key: str, gateway: str | None) -> CommandAnswerIn:
    if not isinstance(document, dict):
        raise CodecError(f"response: expected an object, got {kind_of(document)}")
    # Unknown fields are refused: a misspelt "eror" would otherwise silently lose the reason.
    extra = sorted(document.keys() - _ANSWER_FIELDS)
    if extra:
        raise CodecError(f"response: unknown field {show(extra[0])} (id, ok, payload, error)")
    command_id = check_command_id(document.get("id"), "response: id")
    ok = document.get("ok")
    if not isinstance(ok, bool):
        raise CodecError(f"response: 'ok' must be true or false, got {kind_of(ok)}")
    error = document.get("error")
    if error is not None and not isinstance(error, str):
        raise CodecError(f"response: 'error' must be a text, got {kind_of(error)}")
    return CommandAnswerIn(
        device_key, command_id, ok, error or None, document.get("payload"), gateway
    )


def parse_status(payload: bytes, where: str = "status") -> bool | None:
    """Online or offline, from `online` / `offline` or `{"online": true|false}`. None for an
    empty payload: that is how a client clears a retained message, which says nothing about
    the device's connection."""
    check_size(payload)
    text = payload.strip()
    if not payload:
        return None
    online = _STATUS_TEXT.get(text.lower())
    if online is not None:
        return online
    if not text.startswith(b"{"):
        raise CodecError(f"{where}: expected {_STATUS_SHAPE}")
    document = load_json(payload)
    if not isinstance(document, dict) or not isinstance(document.get("online"), bool):
        raise CodecError(f"{where}: expected {_STATUS_SHAPE}")
    # Other facts belong on `properties`; taking them here would drop them without a word.
    extra = sorted(document.keys() - {"online"})
    if extra:
        raise CodecError(
            f"{where}: unknown field {show(extra[0])} (only 'online'; send facts as properties)"
        )
    online = document["online"]
    assert isinstance(online, bool)
    return online


def decode_presence(device_key: str, payload: bytes, gateway: str | None = None) -> list[Inbound]:
    online = parse_status(payload)
    return [] if online is None else [PresenceIn(device_key, online, gateway)]


def decode_device(
    kind: str, device_key: str, payload: bytes, *, now_ms: int, gateway: str | None = None
) -> list[Inbound]:
    """One device's telemetry, properties, response or status (native and gateway topics)."""
    if kind == "telemetry":
        readings = parse_telemetry(load_json(payload), now_ms)
        return [TelemetryIn(device_key, readings, gateway)]
    if kind == "status":
        return decode_presence(device_key, payload, gateway)
    if kind == "properties":
        return [PropertiesIn(device_key, parse_properties(load_json(payload)), gateway)]
    if kind == "responses":
        return [parse_answer(load_json(payload), device_key, gateway)]
    if kind == "commands":
        raise CodecError("'commands' carries commands to the device; a device does not publish it")
    raise CodecError(f"unknown subtopic {show(kind)} ({_KINDS_TEXT})")


def command_body(command: CommandOut) -> bytes:
    """`{"id", "channel", "payload"}` as compact JSON (native and gateway commands)."""
    check_command_id(command.command_id)
    body = {"id": command.command_id, "channel": command.channel, "payload": command.payload}
    try:
        encoded = orjson.dumps(body)
    except orjson.JSONEncodeError as error:
        raise CodecError(f"the command cannot be sent as JSON: {error}") from None
    check_size(encoded)
    return encoded


class NativeCodec:
    name = "native"

    def matches(self, topic: str) -> bool:
        return topic.startswith(PREFIX)

    def decode(
        self, topic: str, payload: bytes, client: ClientIdentity, *, now_ms: int
    ) -> list[Inbound]:
        parts = topic.split("/")
        if len(parts) != 5 or not topic.startswith(PREFIX):
            raise CodecError(
                f"topic {show(topic)} is not thingport/v1/devices/{{device_key}}/"
                "telemetry|properties|responses|status"
            )
        return decode_device(parts[4], check_key(parts[3]), payload, now_ms=now_ms)

    def encode_command(self, command: CommandOut) -> tuple[str, bytes]:
        topic = f"{PREFIX}{check_key(command.device_key)}/commands"
        return topic, command_body(command)

    def platform_subscriptions(self) -> list[str]:
        return [f"{PREFIX}+/{kind}" for kind in DEVICE_KINDS]

    def topic_secret(self, topic: str) -> str | None:
        return None  # topics name devices by key, which is no secret

    def allowed_topics(self, client: ClientIdentity, device_keys: Sequence[str]) -> list[str]:
        # A key that is not a valid key could carry '+' or '#' into the ACL; it gets no topic.
        return [f"{PREFIX}{key}/#" for key in device_keys if is_key(key)]
