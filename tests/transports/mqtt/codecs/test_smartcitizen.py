"""The SmartCitizen kits' convention, fed the payloads of the live service's MQTT handler
(`device/sck/{token}/readings`, `.../readings/raw`, `.../info`, `.../hello`)."""

from __future__ import annotations

import pytest

from thingport.core.telemetry.schemas import Reading
from thingport.transports.mqtt.codec import (
    MAX_PAYLOAD_BYTES,
    ClientIdentity,
    CodecError,
    CommandOut,
    PropertiesIn,
    TelemetryIn,
)
from thingport.transports.mqtt.codecs.smartcitizen import SmartCitizenCodec, token_topics

NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z
_ENTRY = '{"data":[{"recorded_at":"2023-11-14T10:00:00Z","sensors":[%s]}]}'
TOKEN = "0a1b2c"
KIT = ClientIdentity(client_id="sck-client", username=TOKEN)
codec = SmartCitizenCodec()


def decode(suffix: str, payload: bytes, client: ClientIdentity = KIT) -> list[object]:
    return list(codec.decode(f"device/sck/{TOKEN}/{suffix}", payload, client, now_ms=NOW))


def test_json_readings_as_the_live_service_documents() -> None:
    body = (
        b'{"data":[{"recorded_at":"2023-11-14 10:30:00Z","sensors":[{"id":1,"value":21}]},'
        b'{"recorded_at":1699957800,"sensors":[{"id":"55","value":"3.5"},'
        b'{"id":"temp","value":19.25},{"id":14,"value":null}]}]}'
    )
    assert decode("readings", body) == [
        TelemetryIn(
            "",
            [
                Reading("1", 21.0, 1_699_957_800_000),
                Reading("55", 3.5, 1_699_957_800_000),
                Reading("temp", 19.25, 1_699_957_800_000),
            ],
            device_token=TOKEN,
            sensor_keys=True,
        )
    ]


def test_raw_readings() -> None:
    payload = b"{t:2023-11-14T13:19:38Z,1:2,10:3.12345,100:-2000.12345,5:null}"
    ts = 1_699_967_978_000
    assert decode("readings/raw", payload) == [
        TelemetryIn(
            "",
            [Reading("1", 2.0, ts), Reading("10", 3.12345, ts), Reading("100", -2000.12345, ts)],
            device_token=TOKEN,
            sensor_keys=True,
        )
    ]
    # The time anywhere, spaces around the parts and a trailing comma, as the grammar allows.
    assert decode("readings/raw", b" { 55 : 7 , t:2023-11-14T13:19:38Z, } ") == [
        TelemetryIn("", [Reading("55", 7.0, ts)], device_token=TOKEN, sensor_keys=True)
    ]


@pytest.mark.parametrize(
    ("suffix", "payload"),
    [
        ("readings", (_ENTRY % '{"id":1,"value":null}').encode()),
        ("readings", (_ENTRY % "").encode()),
        ("readings/raw", b"{t:2023-11-14T13:19:38Z,5:null}"),
        ("readings/raw", b"{t:2023-11-14T13:19:38Z}"),
    ],
)  # fmt: skip
def test_readings_without_values_only_mark_the_kit_seen(suffix: str, payload: bytes) -> None:
    assert decode(suffix, payload) == [PropertiesIn("", {}, device_token=TOKEN)]


def test_info_becomes_hardware_info() -> None:
    info = (
        b'{"time":"2023-11-14T10:00:00Z","hw_ver":"2.1","id":"ABC","sam_ver":"0.9.8",'
        b'"sam_bd":"2021-01-01","esp_ver":"0.9.8","esp_bd":"2021-01-01","mac":"AA:BB"}'
    )
    [message] = decode("info", info)
    assert isinstance(message, PropertiesIn)
    assert message.device_key == ""
    assert message.device_token == TOKEN
    assert message.properties["hardware_info"]["hw_ver"] == "2.1"
    assert list(message.properties) == ["hardware_info"]


@pytest.mark.parametrize("payload", [b"", b"hello", b'{"anything": 1}'])
def test_hello_stores_nothing_but_is_seen(payload: bytes) -> None:
    assert decode("hello", payload) == [PropertiesIn("", {}, device_token=TOKEN)]


def test_identity_is_checked_unless_the_broker_vouched() -> None:
    other = ClientIdentity(client_id="x", username="ffffff")
    with pytest.raises(CodecError, match="not the token the client connected with"):
        decode("hello", b"", other)
    # Logged in with the token as client id and no user name.
    assert decode("hello", b"", ClientIdentity(client_id=TOKEN, username=""))
    # Through an external broker whose ACL vouched for the sender.
    assert decode("hello", b"", ClientIdentity("", "", broker_verified=True))


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("device/sck/0a1b2c", "is not device/sck/{token}/"),
        ("device/sck/0a1b2c/readings/raw/x", "is not device/sck/{token}/"),
        ("device/sck//readings", "the device token is empty"),
        ("device/sck/a+b/readings", "is not a valid key"),
        ("device/sck/0a1b2c/inventory", "unknown subtopic 'inventory'"),
        ("device/sck/0a1b2c/readings/cooked", "unknown subtopic 'readings/cooked'"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        codec.decode(topic, b"{}", ClientIdentity("", "", broker_verified=True), now_ms=NOW)


@pytest.mark.parametrize(
    ("suffix", "payload", "reason"),
    [
        ("readings", b"", "the payload is empty"),
        ("readings", b"{nope", "not valid JSON"),
        ("readings", b"[]", "expected an object"),
        ("readings", b'{"data": []}', "non-empty array"),
        ("readings", b'{"data": {}}', "non-empty array"),
        ("readings", b'{"data":[{"sensors":[]}]}', r"data\[0\].recorded_at: is missing"),
        ("readings", b'{"data":[{"recorded_at":"2023-11-16T10:00:00Z","sensors":[]}]}',
         "more than a day in the future"),
        ("readings", b'{"data":[{"recorded_at":"2023-11-14T10:00:00Z"}]}',
         r"data\[0\].sensors: must be an array"),
        ("readings", (_ENTRY % '{"id":true,"value":1}').encode(), "must be a sensor id or"),
        ("readings", (_ENTRY % '{"id":1,"value":"x"}').encode(), "'x' is not a number"),
        ("readings", (_ENTRY % '{"id":1,"value":1e300}').encode(), "is not a number"),
        ("readings", (_ENTRY % '{"id":1,"value":true}').encode(), "True is not a number"),
        ("readings", (_ENTRY % ",".join(['{"id":1,"value":"x"}'] * 5)).encode(), "and 2 more"),
        ("readings/raw", b"", "the payload is empty"),
        ("readings/raw", b"\xff", "not UTF-8"),
        ("readings/raw", b"t:2023-11-14T13:19:38Z,1:2", r"expected \{t:"),
        ("readings/raw", b"{1:2}", "no time"),
        ("readings/raw", b"{t:yesterday,1:2}", "the time 'yesterday'"),
        ("readings/raw", b"{t:2023-11-14T13:19:38Z,t:2023-11-14T13:19:38Z}", "a second time"),
        ("readings/raw", b"{t:2023-11-14T13:19:38Z,1}", "is not <sensor id>:<value>"),
        ("readings/raw", b"{t:2023-11-14T13:19:38Z,:2}", "is not a sensor id or key"),
        ("readings/raw", b"{t:2023-11-14T13:19:38Z,1:nan}", "'nan' is not a number"),
        ("readings/raw", b"{t:2023-11-14T13:19:38Z,1:1_0}", "'1_0' is not a number"),
        ("readings/raw", b"{t:2023-11-14T13:19:38Z,1:1e300}", "is not a number"),
        ("info", b"[1]", "expected a JSON object, got a list"),
        ("info", b"null", "expected a JSON object, got null"),
        ("hello", b"x" * (MAX_PAYLOAD_BYTES + 1), "exceeds the limit"),
    ],
)  # fmt: skip
def test_bad_payloads(suffix: str, payload: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason) as caught:
        decode(suffix, payload)
    assert len(str(caught.value)) < 1000


def test_commands_are_refused() -> None:
    with pytest.raises(CodecError, match="take no commands"):
        codec.encode_command(CommandOut("5d41402a", "KIT-1", None, {"on": True}))


def test_subscriptions_and_acl() -> None:
    assert codec.platform_subscriptions() == [
        "device/sck/+/readings",
        "device/sck/+/readings/raw",
        "device/sck/+/info",
        "device/sck/+/hello",
    ]
    # A user's login never opens a kit's topics; the token does.
    assert codec.allowed_topics(KIT, ["KIT-1", TOKEN]) == []
    assert token_topics(TOKEN) == ["device/sck/0a1b2c/#"]
    for bad in ("a/#", "+", ""):
        assert token_topics(bad) == []


def test_the_topics_secret_is_the_kits_token() -> None:
    assert codec.topic_secret(f"device/sck/{TOKEN}/readings") == TOKEN
    assert codec.topic_secret(f"device/sck/{TOKEN}/anything/else") == TOKEN
    assert codec.topic_secret("device/sck//readings") is None
    assert codec.topic_secret("device/sck") is None
