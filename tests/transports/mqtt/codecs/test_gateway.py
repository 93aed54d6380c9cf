"""The gateway convention: sub-devices under thingport/v1/gateways/{gateway_key}/..."""

from __future__ import annotations

import orjson
import pytest

from thingport.core.telemetry.schemas import Reading
from thingport.transports.mqtt.codec import (
    ClientIdentity,
    CodecError,
    CommandAnswerIn,
    CommandOut,
    PresenceIn,
    PropertiesIn,
    TelemetryIn,
)
from thingport.transports.mqtt.codecs.gateway import GatewayCodec

NOW = 1_700_000_000_000
GW = "GW-01"
CLIENT = ClientIdentity(client_id=GW, username="alice")
ROOT = f"thingport/v1/gateways/{GW}"
codec = GatewayCodec()


def decode(suffix: str, payload: bytes) -> list[object]:
    return list(codec.decode(f"{ROOT}/{suffix}", payload, CLIENT, now_ms=NOW))


def test_sub_device_telemetry_carries_gateway() -> None:
    assert decode("devices/node-7/telemetry", b'{"temperature": 19.5}') == [
        TelemetryIn("node-7", [Reading("temperature", 19.5)], gateway=GW)
    ]
    payload = (
        b'[{"ts": 1700000000, "values": {"t": 1}},'
        b' {"ts": "2023-11-14T22:14:20Z", "values": {"t": 2}}]'
    )
    assert decode("devices/node-7/telemetry", payload) == [
        TelemetryIn(
            "node-7",
            [Reading("t", 1.0, 1_700_000_000_000), Reading("t", 2.0, 1_700_000_060_000)],
            gateway=GW,
        )
    ]


def test_sub_device_properties_and_responses() -> None:
    assert decode("devices/node-7/properties", b'{"rssi_dbm": -71, "fw": "2.0"}') == [
        PropertiesIn("node-7", {"rssi_dbm": -71, "fw": "2.0"}, gateway=GW)
    ]
    assert decode("devices/node-7/responses", b'{"id": "c1", "ok": false, "error": "asleep"}') == [
        CommandAnswerIn("node-7", "c1", False, "asleep", None, gateway=GW)
    ]


def test_gateway_batch_for_several_sub_devices() -> None:
    payload = {
        "node-1": {"t": 20.1, "h": 55},
        "node-2": {"ts": 1700000000, "values": {"t": 18}},
        "node-3": [{"ts": 1700000000, "values": {"co2": 410}}, {"co2": 415}],
    }
    assert decode("telemetry", orjson.dumps(payload)) == [
        TelemetryIn("node-1", [Reading("t", 20.1), Reading("h", 55.0)], gateway=GW),
        TelemetryIn("node-2", [Reading("t", 18.0, 1_700_000_000_000)], gateway=GW),
        TelemetryIn(
            "node-3",
            [Reading("co2", 410.0, 1_700_000_000_000), Reading("co2", 415.0)],
            gateway=GW,
        ),
    ]


def test_status_of_the_gateway_and_of_a_sub_device() -> None:
    # The gateway's own status names the gateway as the device (no `gateway`: it acts for
    # itself); a sub-device's carries its gateway, like its telemetry.
    assert codec.decode(f"{ROOT}/status", b"offline", CLIENT, now_ms=NOW) == [PresenceIn(GW, False)]
    assert codec.decode(f"{ROOT}/devices/node-7/status", b"Online", CLIENT, now_ms=NOW) == [
        PresenceIn("node-7", True, gateway=GW)
    ]
    assert codec.decode(f"{ROOT}/status", b"", CLIENT, now_ms=NOW) == []
    with pytest.raises(CodecError, match="expected 'online', 'offline'"):
        codec.decode(f"{ROOT}/devices/node-7/status", b"up", CLIENT, now_ms=NOW)


def test_encode_command_exact_bytes() -> None:
    command = CommandOut("c1", "node-7", "led", "blink", gateway=GW)
    assert codec.encode_command(command) == (
        f"{ROOT}/devices/node-7/commands",
        b'{"id":"c1","channel":"led","payload":"blink"}',
    )


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (CommandOut("c1", "node-7", None, 1), "needs the gateway's key"),
        (CommandOut("c1", "node-7", None, 1, gateway="g/#"), "gateway key 'g/#'"),
        (CommandOut("c1", "", None, 1, gateway=GW), "sub-device key is empty"),
        (CommandOut("c 1", "node-7", None, 1, gateway=GW), "command id"),
    ],
)
def test_encode_command_errors(command: CommandOut, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        codec.encode_command(command)


def test_subscriptions_and_acl() -> None:
    assert codec.platform_subscriptions() == [
        "thingport/v1/gateways/+/telemetry",
        "thingport/v1/gateways/+/status",
        "thingport/v1/gateways/+/devices/+/telemetry",
        "thingport/v1/gateways/+/devices/+/properties",
        "thingport/v1/gateways/+/devices/+/responses",
        "thingport/v1/gateways/+/devices/+/status",
    ]
    assert codec.allowed_topics(CLIENT, [GW, "#"]) == [f"{ROOT}/#"]


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        (f"{ROOT}", "is not thingport/v1/gateways/"),
        (f"{ROOT}/devices/node-7", "is not thingport/v1/gateways/"),
        (f"{ROOT}/devices/node-7/telemetry/x", "is not thingport/v1/gateways/"),
        (f"{ROOT}/things/node-7/telemetry", "is not thingport/v1/gateways/"),
        ("thingport/v1/gateways//telemetry", "gateway key is empty"),
        (f"{ROOT}/devices//telemetry", "sub-device key is empty"),
        (f"{ROOT}/devices/{'n' * 65}/telemetry", "longer than 64"),
        (f"{ROOT}/properties", "only telemetry and status"),
        (f"{ROOT}/devices/node-7/commands", "does not publish"),
        (f"{ROOT}/devices/node-7/state", "unknown subtopic 'state'"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        codec.decode(topic, b'{"t": 1}', CLIENT, now_ms=NOW)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[]", "expected an object of sub-device key to telemetry, got a list"),
        (b"{}", "the object is empty"),
        (b'{"": {"t": 1}}', "sub-device key is empty"),
        (b'{"bad key": {"t": 1}}', "sub-device key 'bad key'"),
        (b'{"node-1": 5}', r"telemetry\.node-1: expected an object"),
        (b'{"node-1": {"t": 1}, "node-2": {"t": false}}', r"telemetry\.node-2\.t"),
        (b"\x80", "not UTF-8"),
    ],
)
def test_bad_batches(payload: bytes, reason: str) -> None:
    # One bad sub-device rejects the whole batch: nothing is stored partially.
    with pytest.raises(CodecError, match=reason):
        decode("telemetry", payload)
