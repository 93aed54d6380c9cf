"""The Cayenne MQTT convention, fed the exact bytes the official `cayenne-mqtt` 1.1.0 client (and
the Cayenne C library) publish. The payloads below were captured by running the client's methods
against a recording stand-in for paho, which turns values into bytes with str() / UTF-8."""

from __future__ import annotations

import pytest

from thingport.core.telemetry.schemas import Reading
from thingport.transports.mqtt.codec import (
    MAX_PAYLOAD_BYTES,
    ClientIdentity,
    CodecError,
    CommandAnswerIn,
    CommandOut,
    PropertiesIn,
    TelemetryIn,
)
from thingport.transports.mqtt.codecs.cayenne import CayenneCodec

NOW = 1_700_000_000_000
USER = "0a4b3c80-5d1e-11e7-8e2a-c1d4f4e0b8a2"  # MQTT username from POST /v1.1/clients
THING = "6f1d2e90-5d1e-11e7-b0a3-0d1b0f5c2e77"  # MQTT client id = the thing id = device key
CLIENT = ClientIdentity(client_id=THING, username=USER)
ROOT = f"v1/{USER}/things/{THING}"
codec = CayenneCodec()


def decode(suffix: str, payload: bytes, client: ClientIdentity = CLIENT) -> list[object]:
    return list(codec.decode(f"{ROOT}/{suffix}", payload, client, now_ms=NOW))


@pytest.mark.parametrize(
    ("call", "suffix", "payload", "reading"),
    [
        ("virtualWrite(1, 20.7, 'temp', 'c')", "data/1", b"temp,c=20.7", ("temp", "c", 20.7)),
        ("virtualWrite(2, 40)", "data/2", b"40", ("channel 2", None, 40.0)),
        ("virtualWrite(3, 1.5, 'rel_hum')", "data/3", b"rel_hum,=1.5", ("rel_hum", None, 1.5)),
        ("celsiusWrite(6, 21)", "data/6", b"temp,c=21", ("temp", "c", 21.0)),
        ("fahrenheitWrite(7, 70.5)", "data/7", b"temp,f=70.5", ("temp", "f", 70.5)),
        ("kelvinWrite(8, 294.15)", "data/8", b"temp,k=294.15", ("temp", "k", 294.15)),
        ("luxWrite(9, 300)", "data/9", b"lum,lux=300", ("lum", "lux", 300.0)),
        ("pascalWrite(10, 101325)", "data/10", b"bp,pa=101325", ("bp", "pa", 101325.0)),
        ("hectoPascalWrite(11, 1013.25)", "data/11", b"bp,hpa=1013.25", ("bp", "hpa", 1013.25)),
        ("virtualWrite(12, 1e-07, 'voltage', 'mv')", "data/12", b"voltage,mv=1e-07",
         ("voltage", "mv", 1e-07)),
        # UNIT_UNDEFINED of the Python client, and what the C library writes for a missing unit.
        ("virtualWrite(13, 3.3, 'batt', 'null')", "data/13", b"batt,null=3.3",
         ("batt", None, 3.3)),
        # After a command "seq,1" on cmd/3 the client echoes the value as the channel's state.
        ("on_message echo", "data/3", b"1", ("channel 3", None, 1.0)),
    ],
)  # fmt: skip
def test_client_data_payloads(
    call: str, suffix: str, payload: bytes, reading: tuple[str, str | None, float]
) -> None:
    name, unit, value = reading
    channel = suffix.removeprefix("data/")
    assert decode(suffix, payload) == [
        TelemetryIn(THING, [Reading(channel, value, None, name, unit)])
    ], call


@pytest.mark.parametrize(
    ("payload", "value"),
    [(b"-3", -3.0), (b"+.5", 0.5), (b"7.", 7.0), (b"1e+20", 1e20), (b" 20.7\n", 20.7)],
)
def test_number_forms(payload: bytes, value: float) -> None:
    assert decode("data/4", payload) == [
        TelemetryIn(THING, [Reading("4", value, None, "channel 4")])
    ]


def test_type_without_unit_and_channel_normalised() -> None:
    # The C library's parser takes "type=value" too; "07" is channel 7 as int() reads it.
    assert decode("data/07", b"analog_sensor=512") == [
        TelemetryIn(THING, [Reading("7", 512.0, None, "analog_sensor", None)])
    ]


def test_sys_topics_are_flat_properties() -> None:
    # on_connect of the Python client, then what the C library adds.
    assert decode("sys/model", b"Python") == [PropertiesIn(THING, {"sys/model": "Python"})]
    assert decode("sys/version", b"1.1.0") == [PropertiesIn(THING, {"sys/version": "1.1.0"})]
    assert decode("sys/cpu/model", b"ATmega328P") == [
        PropertiesIn(THING, {"sys/cpu/model": "ATmega328P"})
    ]
    assert decode("sys/cpu/speed", b"16000000") == [
        PropertiesIn(THING, {"sys/cpu/speed": "16000000"})
    ]
    assert decode("sys/os/name", b"Raspbian GNU/Linux") == [
        PropertiesIn(THING, {"sys/os/name": "Raspbian GNU/Linux"})
    ]


def test_responses_from_response_write() -> None:
    assert decode("response", b"ok,0123abcd") == [CommandAnswerIn(THING, "0123abcd", True)]
    # responseWrite(id, error) with an error message that itself contains commas.
    assert decode("response", b"error,0123abcd=bad value, out of range") == [
        CommandAnswerIn(THING, "0123abcd", False, "bad value, out of range")
    ]
    assert decode("response", b"error,0123abcd=") == [CommandAnswerIn(THING, "0123abcd", False)]


def test_identity_is_checked() -> None:
    other_user = ClientIdentity(client_id=THING, username="mallory")
    with pytest.raises(CodecError, match="not the client's MQTT username"):
        decode("data/1", b"1", other_user)
    other_thing = ClientIdentity(client_id="someone-else", username=USER)
    with pytest.raises(CodecError, match="not the client's own"):
        decode("data/1", b"1", other_thing)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        (f"v1/{USER}/things", "is not v1/"),
        (f"v1/{USER}/devices/{THING}/data/1", "is not v1/"),
        (f"v2/{USER}/things/{THING}/data/1", "is not v1/"),
        (f"v1//things/{THING}/data/1", "username in the topic is empty"),
        (f"v1/{USER}/things//data/1", "client id is empty"),
        (f"v1/{USER}/things/{'a' * 65}/data/1", "longer than 64"),
        (f"v1/{USER}/things/{THING}/data", "data/{channel}"),
        (f"v1/{USER}/things/{THING}/data/1/2", "data/{channel}"),
        (f"v1/{USER}/things/{THING}/data/x", "channel 'x' is not a number"),
        (f"v1/{USER}/things/{THING}/data/1234567890", "1-9 digits"),
        (f"v1/{USER}/things/{THING}/sys", "sys/{name}"),
        (f"v1/{USER}/things/{THING}/sys/a/b/c/d", "sys/{name}"),
        (f"v1/{USER}/things/{THING}/sys/bad name", "sys/{name}"),
        (f"v1/{USER}/things/{THING}/response/1", "nothing after it"),
        (f"v1/{USER}/things/{THING}/cmd/1", "does not publish"),
        (f"v1/{USER}/things/{THING}/conf/1", "does not publish"),
        (f"v1/{USER}/things/{THING}/digital-cmd/1", "does not publish"),
        (f"v1/{USER}/things/{THING}/analog-conf/1", "does not publish"),
        (f"v1/{USER}/things/{THING}/digital/3", "legacy digital/ pin topics"),
        (f"v1/{USER}/things/{THING}/analog/0", "legacy analog/ pin topics"),
        (f"v1/{USER}/things/{THING}/status", "unknown subtopic 'status'"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        codec.decode(topic, b"1", CLIENT, now_ms=NOW)


@pytest.mark.parametrize(
    ("suffix", "payload", "reason"),
    [
        # virtualWrite(4, True) and virtualWrite(5, None): paho sends "True" and nothing.
        ("data/4", b"True", "not a number"),
        ("data/5", b"", "payload is empty"),
        ("data/1", b"  \n", "payload is empty"),
        ("data/1", b"\xff", "not UTF-8"),
        ("data/1", b"x" * (MAX_PAYLOAD_BYTES + 1), "exceeds the limit"),
        ("data/1", b"nan", "not a number"),
        ("data/1", b"inf", "not a number"),
        ("data/1", b"temp,c=Infinity", "not a number"),
        ("data/1", b"1e400", "not finite"),
        ("data/1", b"1_000", "not a number"),
        ("data/1", "\u0661\u0662".encode(), "not a number"),  # Arabic-Indic digits
        ("data/1", b"temp,c=", "not a number"),
        ("data/1", b"=5", "the type '' is not"),
        ("data/1", b"te mp,c=5", "the type"),
        ("data/1", b"temp,c,x=5", "the unit 'c,x'"),
        ("data/1", b"temp,c=1,2", "not a number"),
        # gpsWrite / accelWrite of the C library send arrays.
        ("data/1", b"gps,m=[52.36,4.89,12.0]", "array values"),
        ("sys/model", "a\u0000b".encode(), "one line"),
        ("sys/model", b"a" * 1025, "at most 1024"),
        ("sys/model", b"\xc3", "not UTF-8"),
        ("response", b"ok", "'ok,{seq}'"),
        ("response", b"done,abc", "'ok,{seq}'"),
        ("response", b"ok,abc=x", "carries no message"),
        ("response", b"ok,", "seq '' is not"),
        ("response", b"error,a b=x", "seq 'a b'"),
    ],
)
def test_bad_payloads(suffix: str, payload: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        decode(suffix, payload)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (1, b"5d41402a,1"),
        (0.75, b"5d41402a,0.75"),
        (True, b"5d41402a,1"),  # digital actuators take 1/0; "True" would not echo back as data
        (False, b"5d41402a,0"),
        ("on", b"5d41402a,on"),
    ],
)
def test_encode_command(payload: object, expected: bytes) -> None:
    command = CommandOut("5d41402a", THING, "3", payload, username=USER)
    assert codec.encode_command(command) == (f"{ROOT}/cmd/3", expected)


def test_command_round_trip_through_client_behaviour() -> None:
    # What the Python client does with the command: split on ",", echo the value, answer ok.
    topic, body = codec.encode_command(CommandOut("c0ffee", THING, "4", 12.5, username=USER))
    assert topic.split("/")[5] == "4"  # CayenneMessage: int(topic_tokens[5])
    seq, value = body.decode().split(",")
    assert decode("data/4", value.encode()) == [
        TelemetryIn(THING, [Reading("4", 12.5, None, "channel 4")])
    ]
    assert decode("response", f"ok,{seq}".encode()) == [CommandAnswerIn(THING, "c0ffee", True)]


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (CommandOut("c1", THING, "3", 1), "MQTT username"),
        (CommandOut("c1", THING, "3", 1, username="a/b"), "MQTT username"),
        (CommandOut("c1", THING, "3", 1, username="#"), "MQTT username"),
        (CommandOut("c1", THING, None, 1, username=USER), "needs a channel"),
        (CommandOut("c1", THING, "relay", 1, username=USER), "is not a number"),
        (CommandOut("c1", "x/y", "3", 1, username=USER), "not a valid key"),
        (CommandOut("c,1", THING, "3", 1, username=USER), "command id"),
        (CommandOut("c1", THING, "3", "a,b", username=USER), "without commas"),
        (CommandOut("c1", THING, "3", "", username=USER), "without commas"),
        (CommandOut("c1", THING, "3", "two\nlines", username=USER), "one-line"),
        (CommandOut("c1", THING, "3", {"value": 1}, username=USER), "is a number"),
        (CommandOut("c1", THING, "3", None, username=USER), "is a number"),
        (CommandOut("c1", THING, "3", float("nan"), username=USER), "not finite"),
        (CommandOut("c1", THING, "3", 10**5000, username=USER), "not finite or out of range"),
    ],
)
def test_encode_command_errors(command: CommandOut, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        codec.encode_command(command)


def test_subscriptions_and_acl() -> None:
    assert codec.platform_subscriptions() == [
        "v1/+/things/+/data/+",
        "v1/+/things/+/sys/#",
        "v1/+/things/+/response",
    ]
    assert codec.allowed_topics(CLIENT, [THING, "other-1", "bad/#"]) == [
        f"v1/{USER}/things/{THING}/#",
        f"v1/{USER}/things/other-1/#",
    ]
    # The client subscribes to cmd/+ under its root, which the ACL covers.
    assert f"{ROOT}/cmd/+".startswith(codec.allowed_topics(CLIENT, [THING])[0][:-1])
    wildcard_user = ClientIdentity(client_id=THING, username="+")
    assert codec.allowed_topics(wildcard_user, [THING]) == []
    assert codec.allowed_topics(ClientIdentity(client_id=THING, username=""), [THING]) == []


def test_an_external_brokers_clients_are_taken_as_verified() -> None:
    from thingport.transports.mqtt.codecs.cayenne import CayenneCodec

    codec = CayenneCodec()
    verified = ClientIdentity(client_id="", username="", broker_verified=True)
    messages = codec.decode("v1/user-1/things/thing-1/data/3", b"temp,c=20.5", verified, now_ms=0)
    assert [m.device_key for m in messages] == ["thing-1"]
