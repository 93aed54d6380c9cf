"""SmartCitizen kits: `device/sck/{token}/...`, as the live SmartCitizen service handles them
(`app/lib/mqtt_messages_handler.rb`, `app/grammars/raw_message.tt` in fablabbcn/smartcitizen-api).

A kit knows only its device token (6 hex digits, shown once when the device is created), so
every message is decoded with `device_token` set and an empty `device_key`; the transport looks
the token up, and its readings are keyed by sensor (sensor ids, or keys of the kit's sensors),
which the core turns into series keys, as for `POST /v0/devices/:id/readings`.

- `readings`: the JSON body of the HTTP POST, `{"data": [{"recorded_at", "sensors": [{"id",
  "value"}]}]}`, parsed by the dialect's `wire.py` for both, so both refuse the same entries.
- `readings/raw`: the firmware's compact form `{t:2024-09-25T13:19:38Z,1:2,10:3.12,5:null}`.
- `info`: a JSON object stored as the device's `hardware_info` property (shown as
  `hardware.last_status_message` in the SmartCitizen device JSON).
- `hello`: stores nothing; the device counts as seen.

The live service sends kits no commands over MQTT, so `encode_command` refuses. TOPICS.md has
the tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from thingport.core.catalog.sensor_readings import SensorValue
from thingport.core.telemetry.schemas import Reading
from thingport.dialects.smartcitizen.wire import (
    parse_data,
    reading_time,
    reading_value,
    sensor_ref,
)
from thingport.transports.mqtt.codec import (
    ClientIdentity,
    CodecError,
    CommandOut,
    Inbound,
    PropertiesIn,
    TelemetryIn,
)
from thingport.transports.mqtt.codecs.native import (
    check_key,
    check_size,
    is_key,
    kind_of,
    load_json,
    show,
)

PREFIX = "device/sck/"
KINDS = ("readings", "readings/raw", "info", "hello")
HARDWARE_INFO = "hardware_info"  # the property the SmartCitizen device JSON shows

_SHAPE = "device/sck/{token}/readings|readings/raw|info|hello"
# A raw value: what the live grammar reads (digits, a sign, a decimal part), plus an exponent.
# ASCII only: float() would also take "nan", "inf", "1_0" and non-ASCII digits.
_RAW_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_REASONS = 3  # a message names its first few bad entries, not thousands


def token_topics(token: str) -> list[str]:
    """The topic filters of a client that logged in with a device token: its own kit's
    subtree. A token that breaks the key rule (and so could carry `+`, `#` or `/`) gets none."""
    return [f"{PREFIX}{token}/#"] if is_key(token) else []


def _reasons(errors: dict[str, list[str]]) -> str:
    shown = [f"{where}: {'; '.join(texts)}" for where, texts in list(errors.items())[:_MAX_REASONS]]
    more = len(errors) - _MAX_REASONS
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _json_readings(payload: bytes, now_ms: int) -> list[SensorValue]:
    document = load_json(payload)
    if not isinstance(document, dict):
        raise CodecError(f'readings: expected an object {{"data": [...]}}, got {kind_of(document)}')
    data = document.get("data")
    if not isinstance(data, list) or not data:
        raise CodecError("readings: 'data' must be a non-empty array of readings")
    entries, errors = parse_data(data, now_ms)
    if errors:
        raise CodecError(f"readings: {_reasons(errors)}")
    return entries


def _raw_readings(payload: bytes, now_ms: int) -> list[SensorValue]:
    check_size(payload)
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CodecError("the payload is not UTF-8 text") from None
    if not text:
        raise CodecError("the payload is empty")
    if not (text.startswith("{") and text.endswith("}")):
        raise CodecError("readings/raw: expected {t:<time>,<sensor id>:<value>,...}")
    ts: int | None = None
    pairs: list[tuple[str, str, str]] = []
    # Split as the live service does: on commas, then each pair on its first colon (times have
    # colons of their own). An empty piece is a trailing comma, which the grammar allows.
    for index, piece in enumerate(text[1:-1].split(",")):
        if not piece.strip():
            continue
        where = f"readings/raw[{index}]"
        key, colon, value = piece.partition(":")
        key, value = key.strip(), value.strip()
        if not colon:
            raise CodecError(f"{where}: {show(piece, 40)} is not <sensor id>:<value>")
        if key == "t":
            if ts is not None:
                raise CodecError(f"{where}: a second time (t)")
            try:
                ts = reading_time(value, now_ms)
            except ValueError as error:
                raise CodecError(f"{where}: the time {show(value, 40)} {error}") from None
            continue
        pairs.append((where, key, value))
    if ts is None:
        raise CodecError("readings/raw: no time (t:2024-09-25T13:19:38Z)")
    entries: list[SensorValue] = []
    for where, key, value in pairs:
        ref = sensor_ref(key)
        if ref is None:
            raise CodecError(f"{where}: {show(key, 40)} is not a sensor id or key")
        if value == "null":  # no value, skipped as on the live service
            continue
        number = None
        if _RAW_NUMBER.fullmatch(value) is not None:
            try:
                number = reading_value(value)
            except ValueError:
                number = None
        if number is None:
            raise CodecError(f"{where}: {show(value, 40)} is not a number")
        entries.append(SensorValue(where, ref, number, ts))
    return entries


class SmartCitizenCodec:
    name = "smartcitizen"

    def matches(self, topic: str) -> bool:
        return topic.startswith(PREFIX)

    def decode(
        self, topic: str, payload: bytes, client: ClientIdentity, *, now_ms: int
    ) -> list[Inbound]:
        parts = topic.split("/")
        if not topic.startswith(PREFIX) or len(parts) not in (4, 5):
            raise CodecError(f"topic {show(topic)} is not {_SHAPE}")
        token = check_key(parts[2], "device token")
        # On the embedded broker the ACL already keeps a kit under its own token; checking it
        # here too means a mistake there cannot let one kit write as another. An external
        # broker's ACL vouched for the sender and its identity is not known here.
        if not client.broker_verified and token != (client.username or client.client_id):
            raise CodecError(
                f"the topic's token {show(token, 20)} is not the token the client connected with"
            )
        kind = "/".join(parts[3:])
        if kind in ("readings", "readings/raw"):
            entries = (_json_readings if kind == "readings" else _raw_readings)(payload, now_ms)
            if not entries:
                # Every value was null: nothing to store, but the kit was heard from.
                return [PropertiesIn("", {}, device_token=token)]
            readings = [Reading(str(e.ref), e.value, e.ts_ms) for e in entries]
            return [TelemetryIn("", readings, device_token=token, sensor_keys=True)]
        if kind == "info":
            document = load_json(payload)
            if not isinstance(document, dict):
                raise CodecError(f"info: expected a JSON object, got {kind_of(document)}")
            return [PropertiesIn("", {HARDWARE_INFO: document}, device_token=token)]
        if kind == "hello":
            check_size(payload)  # the payload means nothing to the platform
            return [PropertiesIn("", {}, device_token=token)]
        raise CodecError(f"unknown subtopic {show(kind, 40)} (readings, readings/raw, info, hello)")

    def encode_command(self, command: CommandOut) -> tuple[str, bytes]:
        raise CodecError(
            "SmartCitizen kits take no commands over MQTT (the live service sends them none)"
        )

    def platform_subscriptions(self) -> list[str]:
        return [f"{PREFIX}+/{kind}" for kind in KINDS]

    def topic_secret(self, topic: str) -> str | None:
        # A kit's token is its only credential, and its topics carry it.
        parts = topic.split("/")
        if len(parts) > 2 and topic.startswith(PREFIX) and parts[2]:
            return parts[2]
        return None

    def allowed_topics(self, client: ClientIdentity, device_keys: Sequence[str]) -> list[str]:
        # A kit's topics are opened by its token (`token_topics`), never by a user's login:
        # tokens are stored hashed, so the device keys a user may change do not give them.
        return []
