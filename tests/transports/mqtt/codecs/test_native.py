"""The native convention: thingport/v1/devices/{key}/telemetry|properties|responses|status and
.../commands."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from thingport.core.telemetry.schemas import Reading
from thingport.transports.mqtt.codec import (
    MAX_PAYLOAD_BYTES,
    ClientIdentity,
    CodecError,
    CommandAnswerIn,
    CommandOut,
    PresenceIn,
    PropertiesIn,
    TelemetryIn,
)
from thingport.transports.mqtt.codecs.native import NativeCodec
from thingport.transports.mqtt.codecs.registry import codec_for

NOW = 1_700_000_000_000
CLIENT = ClientIdentity(client_id="D0A0D862CC766B7A", username="alice")
KEY = "D0A0D862CC766B7A"
codec = NativeCodec()


def decode(kind: str, payload: Any, key: str = KEY) -> list[Any]:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return codec.decode(f"thingport/v1/devices/{key}/{kind}", body, CLIENT, now_ms=NOW)


def test_plain_object_of_metrics() -> None:
    assert decode("telemetry", b'{"temperature": 21.5, "humidity": 40}') == [
        TelemetryIn(KEY, [Reading("temperature", 21.5), Reading("humidity", 40.0)])
    ]


@pytest.mark.parametrize(
    ("ts", "expected_ms"),
    [
        (1700000100, 1_700_000_100_000),  # epoch seconds
        (1700000100123, 1_700_000_100_123),  # epoch milliseconds
        (1700000100.5, 1_700_000_100_500),  # fractional seconds
        ("2023-11-14T22:15:00Z", 1_700_000_100_000),  # ISO 8601
        ("2023-11-15T00:15:00+02:00", 1_700_000_100_000),
        ("1700000100", 1_700_000_100_000),  # epoch as text
        (None, None),  # null is "now", like no ts at all
    ],
)
def test_timestamped_object(ts: Any, expected_ms: int | None) -> None:
    [message] = decode("telemetry", {"ts": ts, "values": {"t": 1, "h": -2.5}})
    assert message == TelemetryIn(
        KEY, [Reading("t", 1.0, expected_ms), Reading("h", -2.5, expected_ms)]
    )


def test_values_without_ts_are_now() -> None:
    assert decode("telemetry", {"values": {"t": 1}}) == [TelemetryIn(KEY, [Reading("t", 1.0)])]


def test_batch_list_mixes_times() -> None:
    payload = [
        {"ts": 1700000000, "values": {"t": 20.0}},
        {"ts": 1700000060, "values": {"t": 20.5, "h": 41}},
        {"t": 21},
    ]
    assert decode("telemetry", payload) == [
        TelemetryIn(
            KEY,
            [
                Reading("t", 20.0, 1_700_000_000_000),
                Reading("t", 20.5, 1_700_000_060_000),
                Reading("h", 41.0, 1_700_000_060_000),
                Reading("t", 21.0, None),
            ],
        )
    ]


def test_values_are_floats() -> None:
    [message] = decode("telemetry", b'{"n": 7, "big": 1e100, "neg": -1e-300}')
    assert isinstance(message, TelemetryIn)
    assert [type(r.value) for r in message.readings] == [float, float, float]


def test_properties_merge_object() -> None:
    payload = {"firmware": "1.2.3", "model": {"board": "esp32"}, "serial": 42}
    assert decode("properties", payload) == [PropertiesIn(KEY, payload)]


def test_response_ok_and_error() -> None:
    assert decode("responses", {"id": "4f1c", "ok": True, "payload": {"state": "on"}}) == [
        CommandAnswerIn(KEY, "4f1c", True, None, {"state": "on"})
    ]
    assert decode("responses", {"id": "4f1c", "ok": False, "error": "relay stuck"}) == [
        CommandAnswerIn(KEY, "4f1c", False, "relay stuck", None)
    ]


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b"online", True),
        (b"offline", False),
        (b"ONLINE", True),
        (b"Offline\n", False),
        (b"  online ", True),
        (b'{"online": true}', True),
        (b' {"online": false} ', False),
    ],
)
def test_status_says_online_or_offline(payload: bytes, online: bool) -> None:
    assert decode("status", payload) == [PresenceIn(KEY, online)]


def test_an_empty_status_clears_the_retained_message_and_says_nothing() -> None:
    # MQTT clears a retained message with an empty one; that is no news about the device.
    assert decode("status", b"") == []


def test_encode_command_exact_bytes() -> None:
    command = CommandOut("5d41402abc4b2a76b9719d911017c592", KEY, "relay", {"on": True})
    assert codec.encode_command(command) == (
        f"thingport/v1/devices/{KEY}/commands",
        b'{"id":"5d41402abc4b2a76b9719d911017c592","channel":"relay","payload":{"on":true}}',
    )
    no_channel = CommandOut("c1", KEY, None, 3)
    assert codec.encode_command(no_channel)[1] == b'{"id":"c1","channel":null,"payload":3}'


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (CommandOut("c1", "a/#", None, 1), "not a valid key"),
        (CommandOut("c1", "", None, 1), "empty"),
        (CommandOut("has space", KEY, None, 1), "command id"),
        (CommandOut("c1", KEY, None, {1, 2}), "cannot be sent as JSON"),
        (CommandOut("c1", KEY, None, 10**30), "cannot be sent as JSON"),
    ],
)
def test_encode_command_errors(command: CommandOut, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        codec.encode_command(command)


def test_subscriptions_and_acl() -> None:
    assert codec.platform_subscriptions() == [
        "thingport/v1/devices/+/telemetry",
        "thingport/v1/devices/+/properties",
        "thingport/v1/devices/+/responses",
        "thingport/v1/devices/+/status",
    ]
    # A key that could smuggle a wildcard into the ACL gets no topic.
    assert codec.allowed_topics(CLIENT, ["A1", "b-2", "x/#", "+"]) == [
        "thingport/v1/devices/A1/#",
        "thingport/v1/devices/b-2/#",
    ]


def test_matches_only_its_prefix() -> None:
    assert codec.matches("thingport/v1/devices/A1/telemetry")
    assert not codec.matches("thingport/v1/gateways/G/telemetry")
    assert not codec.matches("v1/u/things/c/data/1")


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("thingport/v1/devices/A1", "is not thingport/v1/devices/"),
        ("thingport/v1/devices/A1/telemetry/extra", "is not thingport/v1/devices/"),
        ("thingport/v1/devices//telemetry", "device key is empty"),
        ("thingport/v1/devices/" + "a" * 65 + "/telemetry", "longer than 64"),
        ("thingport/v1/devices/-bad/telemetry", "not a valid key"),
        ("thingport/v1/devices/A1/commands", "does not publish"),
        ("thingport/v1/devices/A1/state", r"unknown subtopic 'state' \(.*status\)"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        codec.decode(topic, b'{"t": 1}', CLIENT, now_ms=NOW)


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        ("telemetry", b"", "payload is empty"),
        ("telemetry", b"\xff\xfe{}", "not UTF-8"),
        ("telemetry", b"{not json", "not valid JSON"),
        ("telemetry", b"x" * (MAX_PAYLOAD_BYTES + 1), "exceeds the limit"),
        ("telemetry", b'{"t": true}', r"telemetry\.t: expected a number, got true/false"),
        ("telemetry", b'{"t": "21.5"}', "expected a number, got a text"),
        ("telemetry", b'{"t": null}', "got null"),
        ("telemetry", b'{"t": 1e300}', "exceeds 1e"),
        ("telemetry", b'{"t": NaN}', "not valid JSON"),
        ("telemetry", b'{"t": 1e999}', "not valid JSON"),
        ("telemetry", b"{}", "no values"),
        ("telemetry", b"[]", "list is empty"),
        ("telemetry", b"[[]]", r"telemetry\[0\]: expected an object"),
        ("telemetry", b"42", "expected an object"),
        ("telemetry", b'{"": 1}', "metric name must be 1 to 100"),
        ("telemetry", orjson.dumps({"m" * 101: 1}), "metric name must be 1 to 100"),
        ("telemetry", b'{"a\\nb": 1}', "control characters"),
        ("telemetry", b'{"ts": 1700000000, "t": 1}', "unexpected field 't' next to ts/values"),
        ("telemetry", b'{"ts": 1700000000}', "values: expected an object, got null"),
        ("telemetry", b'{"ts": 1700000000, "values": 5}', "expected an object, got a number"),
        ("telemetry", b'{"ts": "yesterday", "values": {"t": 1}}', "not a valid time"),
        ("telemetry", b'{"ts": true, "values": {"t": 1}}', "not true/false"),
        ("telemetry", b'{"ts": -5, "values": {"t": 1}}', "not an epoch time"),
        ("telemetry", b'{"ts": "0001-01-01", "values": {"t": 1}}', "before 1970"),
        ("telemetry", b'[{"t": 1}, {"t": "x"}]', r"telemetry\[1\]\.t: expected a number"),
        ("properties", b"[1]", "expected an object, got a list"),
        ("properties", b"{}", "nothing to merge"),
        ("responses", b'{"ok": true}', "response: id null"),
        ("responses", b'{"id": "a b", "ok": true}', "response: id 'a b'"),
        ("responses", b'{"id": 7, "ok": true}', "response: id a number"),
        ("responses", b'{"id": "c1"}', "'ok' must be true or false, got null"),
        ("responses", b'{"id": "c1", "ok": 1}', "'ok' must be true or false"),
        ("responses", b'{"id": "c1", "ok": false, "error": 5}', "'error' must be a text"),
        ("responses", b'{"id": "c1", "ok": false, "eror": "x"}', "unknown field 'eror'"),
        ("status", b"connected", "expected 'online', 'offline' or"),
        ("status", b"   ", "expected 'online', 'offline' or"),
        ("status", b"on line", "expected 'online', 'offline' or"),
        ("status", b'"online"', "expected 'online', 'offline' or"),
        ("status", b"1", "expected 'online', 'offline' or"),
        ("status", b'{"online": 1}', "expected 'online', 'offline' or"),
        ("status", b"{}", "expected 'online', 'offline' or"),
        ("status", b"[true]", "expected 'online', 'offline' or"),
        ("status", b'{"online": true, "ip": "10.0.0.7"}', "unknown field 'ip'"),
        ("status", b"{online", "not valid JSON"),
        ("status", b"x" * (MAX_PAYLOAD_BYTES + 1), "exceeds the limit"),
    ],
)
def test_bad_payloads(kind: str, payload: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        decode(kind, payload)


def test_whole_message_rejected_when_one_value_is_bad() -> None:
    # Never partial data: one bad reading in a batch rejects the batch.
    with pytest.raises(CodecError):
        decode("telemetry", [{"t": 1}, {"t": 2}, {"t": False}])



@pytest.mark.parametrize(
    "topic",
    [
        "thingport/v1/devices/K1/telemetry",
        "thingport/v1/gateways/G1/telemetry",
        "v1/user/things/client/data/1",
    ],
)
def test_key_topics_carry_no_secret(topic: str) -> None:
    """Topics that name devices by key, which logs may show (unlike a kit's token)."""
    found = codec_for(topic)
    assert found is not None
    assert found.name != "smartcitizen"
    assert found.topic_secret(topic) is None
