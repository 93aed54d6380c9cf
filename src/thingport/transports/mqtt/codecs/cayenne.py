"""The Cayenne MQTT API, as the official `cayenne-mqtt` Python client (1.1.0) and the Cayenne
MQTT C/Arduino libraries speak it: plain-text payloads under `v1/{username}/things/{clientID}/`.

What the Python client sends, read from its source: on connect `sys/model` = `Python` and
`sys/version` = `1.1.0`; `virtualWrite` sends `type,unit=value` (`temp,c=20.7`, also `temp,=20.7`
when given a type without a unit) or the bare value to `data/{channel}`; after handling a command
it echoes the command's value to `data/{channel}` and answers `ok,{seq}` or `error,{seq}={message}`
on `response`. It subscribes to `cmd/+`, parses the channel with `int()` and splits the command
payload on commas. The C library also writes `type,null=value`, `sys/cpu/model`, `sys/cpu/speed`
and, for gps/accel, array values; its legacy `digital/`/`analog/` pin topics are refused.
TOPICS.md has the full table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from thingport.core.telemetry.schemas import Reading
from thingport.core.telemetry.service import MAX_ABS_VALUE
from thingport.transports.mqtt.codec import (
    ClientIdentity,
    CodecError,
    CommandAnswerIn,
    CommandOut,
    Inbound,
    PropertiesIn,
    TelemetryIn,
)
from thingport.transports.mqtt.codecs.native import (
    check_command_id,
    check_key,
    check_size,
    check_value,
    is_key,
    number_text,
    show,
)

PREFIX = "v1/"
# Topics the platform publishes and devices subscribe to: a device publishing there is confused
# (or probing), never sending data.
_DOWNSTREAM = frozenset({"cmd", "conf", "digital-cmd", "digital-conf", "analog-cmd", "analog-conf"})
# The C library's DIGITAL_AND_ANALOG_SUPPORT pin topics: deprecated by Cayenne, not used by the
# Python client, and with no channel/series mapping in the Cayenne REST API.
_LEGACY_PINS = frozenset({"digital", "analog"})

# ASCII only: float() also takes "nan", "inf", "1_0" and non-ASCII digits, none of them a value.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CHANNEL = re.compile(r"[0-9]{1,9}")
_TYPE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_UNIT = re.compile(r"[A-Za-z0-9_.%/\-]{1,32}")  # the series' unit column holds 32 characters
_SYS_SEGMENT = re.compile(r"[A-Za-z0-9_\-]{1,32}")
_MAX_SYS_DEPTH = 3  # sys/os/name and sys/cpu/speed use two; one more leaves room, not abuse
_MAX_SYS_CHARS = 1024  # sys values are names and versions, not documents
# The C library writes UNIT_UNDEFINED ("null") when a type has no unit.
_NO_UNIT = frozenset({"", "null"})
_SHAPE = "v1/{username}/things/{clientID}/data/{channel}|sys/...|response"


def _text(payload: bytes) -> str:
    check_size(payload)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CodecError("the payload is not UTF-8 text") from None
    text = text.strip()
    if not text:
        raise CodecError("the payload is empty")
    return text


def _channel(text: str, where: str) -> str:
    if _CHANNEL.fullmatch(text) is None:
        raise CodecError(f"{where}: the channel {show(text, 20)} is not a number of 1-9 digits")
    return str(int(text))  # "07" and "7" are one channel, as int() makes them in the client


def _number(text: str, where: str) -> float:
    if text.startswith("["):
        raise CodecError(
            f"{where}: array values (gps, accel) are not supported; send one value per channel"
        )
    if _NUMBER.fullmatch(text) is None:
        raise CodecError(
            f"{where}: {show(text, 40)} is not a number (send e.g. 20.7; true/false as 1/0)"
        )
    return check_value(float(text), where)


def _reading(channel: str, text: str) -> Reading:
    """`type,unit=value`, `type=value` or a bare value; name = type, else "channel N"."""
    where = f"data/{channel}"
    head, equals, raw = text.partition("=")
    if not equals:
        return Reading(channel, _number(text, where), None, f"channel {channel}", None)
    kind, comma, unit = head.partition(",")
    if _TYPE.fullmatch(kind) is None:
        raise CodecError(f"{where}: the type {show(kind, 40)} is not 1-64 letters, digits, '_.-'")
    if not comma or unit in _NO_UNIT:
        return Reading(channel, _number(raw.strip(), where), None, kind, None)
    if _UNIT.fullmatch(unit) is None:
        raise CodecError(f"{where}: the unit {show(unit, 40)} is not 1-32 letters, digits, '_.%/-'")
    return Reading(channel, _number(raw.strip(), where), None, kind, unit)


def _answer(device_key: str, text: str) -> CommandAnswerIn:
    status, comma, tail = text.partition(",")
    if not comma or status not in ("ok", "error"):
        raise CodecError("a response is 'ok,{seq}' or 'error,{seq}={message}'")
    if status == "ok":
        if "=" in tail:
            raise CodecError("an ok response carries no message: 'ok,{seq}'")
        return CommandAnswerIn(device_key, check_command_id(tail, "response: seq"), True)
    seq, _, message = tail.partition("=")
    command_id = check_command_id(seq, "response: seq")
    return CommandAnswerIn(device_key, command_id, False, message.strip() or None)


def _sys(device_key: str, path: list[str], text: str) -> PropertiesIn:
    # Flat keys ("sys/cpu/model"), not nested objects: properties are merged one level deep, so
    # {"sys": {"version": ...}} would wipe the model the device reported a moment before.
    if not 1 <= len(path) <= _MAX_SYS_DEPTH or not all(_SYS_SEGMENT.fullmatch(s) for s in path):
        raise CodecError(
            f"a sys topic is sys/{{name}} with 1 to {_MAX_SYS_DEPTH} segments of "
            "letters, digits, '_' or '-'"
        )
    if len(text) > _MAX_SYS_CHARS or not text.isprintable():
        raise CodecError(f"a sys value is one line of at most {_MAX_SYS_CHARS} characters")
    return PropertiesIn(device_key, {"sys/" + "/".join(path): text})


def _command_value(payload: object) -> str:
    """The text after `seq,` in a command. The Python client keeps only what precedes the next
    comma and echoes it to data/{channel}, so numbers (and 1/0 for true/false) round-trip."""
    if isinstance(payload, bool):
        return "1" if payload else "0"
    if isinstance(payload, int | float):
        if not -MAX_ABS_VALUE <= payload <= MAX_ABS_VALUE:
            shown = number_text(payload)
            raise CodecError(f"the command value {shown} is not finite or out of range")
        return repr(payload)
    if isinstance(payload, str) and payload and "," not in payload and payload.isprintable():
        return payload
    raise CodecError(
        "a Cayenne command value is a number, true/false or a one-line text without commas"
    )


def _segment_ok(text: str | None) -> bool:
    """Usable as one topic level: no separator, no wildcard (MQTT forbids NUL anywhere)."""
    return text is not None and text != "" and not any(c in text for c in "/+#\0")


class CayenneCodec:
    name = "cayenne"

    def matches(self, topic: str) -> bool:
        return topic.startswith(PREFIX)

    def decode(
        self, topic: str, payload: bytes, client: ClientIdentity, *, now_ms: int
    ) -> list[Inbound]:
        parts = topic.split("/")
        if len(parts) < 5 or parts[0] != "v1" or parts[2] != "things":
            raise CodecError(f"topic {show(topic)} is not {_SHAPE}")
        username, client_id, kind, rest = parts[1], parts[3], parts[4], parts[5:]
        if not username:
            raise CodecError("the username in the topic is empty")
        device_key = check_key(client_id, "client id")
        # The broker authenticated (username, client id); a device publishes only as itself.
        # An external broker's ACL has checked that already (and the identity is not known here).
        if not client.broker_verified and username != client.username:
            raise CodecError(
                f"the topic's username {show(username, 40)} is not the client's MQTT username"
            )
        if not client.broker_verified and client_id != client.client_id:
            raise CodecError(f"the topic's client id {show(client_id)} is not the client's own")
        if kind == "data":
            if len(rest) != 1:
                raise CodecError("a data topic is .../data/{channel}")
            channel = _channel(rest[0], "data")
            return [TelemetryIn(device_key, [_reading(channel, _text(payload))])]
        if kind == "sys":
            return [_sys(device_key, rest, _text(payload))]
        if kind == "response":
            if rest:
                raise CodecError("a response topic is .../response, with nothing after it")
            return [_answer(device_key, _text(payload))]
        if kind in _DOWNSTREAM:
            raise CodecError(
                f"{kind}/ carries messages to the device; a device does not publish it"
            )
        if kind in _LEGACY_PINS:
            raise CodecError(
                f"the legacy {kind}/ pin topics are not supported; use data/{{channel}}"
            )
        raise CodecError(f"unknown subtopic {show(kind, 40)} (data, sys or response)")

    def encode_command(self, command: CommandOut) -> tuple[str, bytes]:
        if not _segment_ok(command.username):
            raise CodecError("a Cayenne command needs the device's MQTT username (no / + #)")
        key = check_key(command.device_key)
        if command.channel is None:
            raise CodecError("a Cayenne command needs a channel number")
        channel = _channel(command.channel, "command")
        seq = check_command_id(command.command_id)
        value = _command_value(command.payload)
        topic = f"v1/{command.username}/things/{key}/cmd/{channel}"
        return topic, f"{seq},{value}".encode()

    def platform_subscriptions(self) -> list[str]:
        return ["v1/+/things/+/data/+", "v1/+/things/+/sys/#", "v1/+/things/+/response"]

    def topic_secret(self, topic: str) -> str | None:
        return None  # topics name devices by key, which is no secret

    def allowed_topics(self, client: ClientIdentity, device_keys: Sequence[str]) -> list[str]:
        # The user name goes into the filter verbatim; one with a wildcard would open other
        # accounts' topics, so such a client gets nothing.
        if not _segment_ok(client.username):
            return []
        return [f"v1/{client.username}/things/{key}/#" for key in device_keys if is_key(key)]
