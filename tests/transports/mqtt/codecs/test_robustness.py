"""Bad input never escapes as anything but CodecError, and what is accepted is storable.

Random topics under each codec's prefix, random bytes, and payloads shaped like the real thing
(JSON telemetry, Cayenne text) but with hostile parts: whatever a device sends, decode either
returns messages the core can store or raises CodecError with a reason.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from thingport.core.telemetry.service import MAX_ABS_VALUE, MAX_KEY_LENGTH, MAX_TS_MS
from thingport.transports.mqtt.codec import (
    ClientIdentity,
    CodecError,
    CommandOut,
    Inbound,
    PresenceIn,
    TelemetryIn,
)
from thingport.transports.mqtt.codecs.registry import CODECS, codec_for, codec_named

NOW = 1_700_000_000_000
USER = "0a4b3c80-5d1e-11e7-8e2a-c1d4f4e0b8a2"
THING = "6f1d2e90-5d1e-11e7-b0a3-0d1b0f5c2e77"
CLIENT = ClientIdentity(client_id=THING, username=USER)

# Topic prefixes that reach deep into each codec: the identity matches, so parsing goes on to the
# subtopic and the payload instead of stopping at the first check.
DEEP_PREFIXES = [
    "thingport/v1/devices/",
    f"thingport/v1/devices/{THING}/",
    "thingport/v1/gateways/",
    "thingport/v1/gateways/GW-1/",
    "thingport/v1/gateways/GW-1/devices/",
    "thingport/v1/gateways/GW-1/devices/node-1/",
    "v1/",
    f"v1/{USER}/things/",
    f"v1/{USER}/things/{THING}/",
    f"v1/{USER}/things/{THING}/data/",
    f"v1/{USER}/things/{THING}/sys/",
    "device/sck/",
    f"device/sck/{USER}/",
    f"device/sck/{USER}/readings/",
]

# Plausible parts, so that generated payloads are often accepted and the storability checks run
# on real output, next to hostile ones that must be refused.
numbers = st.floats(-1e9, 1e9) | st.integers(-(10**6), 10**6)
times = (
    st.none()
    | st.integers(0, 10**13)
    | st.floats(0, 10**10)
    | st.sampled_from(
        ["2023-11-14T22:15:00Z", "1h-ago", "now", "1700000000", "2023-11-14 22:15:00 02:00"]
    )
)
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # NaN and the infinities included: json.dumps writes them as bare words
    | st.text(max_size=30)
    | st.sampled_from(["0001-01-01", "1e9", "yesterday"])
    | numbers
    | times
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["ts", "values", "id", "ok"]), inner
        )
    ),
    max_leaves=12,
)
# Well-formed documents (accepted, so the storability checks run) next to hostile ones.
good_metric_maps = st.dictionaries(
    st.text(min_size=1, max_size=12), numbers, min_size=1, max_size=4
)
metric_maps = good_metric_maps | st.dictionaries(st.text(max_size=12), json_leaves, max_size=4)
good_stamped = st.fixed_dictionaries({"ts": times, "values": good_metric_maps})
good_telemetry = (
    good_metric_maps | good_stamped | st.lists(good_metric_maps | good_stamped, min_size=1)
)
telemetry_docs = good_telemetry | st.one_of(
    metric_maps,
    st.fixed_dictionaries({"ts": json_leaves, "values": metric_maps | json_values}),
    st.lists(metric_maps | good_stamped, max_size=4),
)
good_answers = st.fixed_dictionaries(
    {"id": st.sampled_from(["c1", "5d41402a"]), "ok": st.booleans()},
    optional={"payload": json_values, "error": st.none() | st.text(max_size=10)},
)
answers = good_answers | st.fixed_dictionaries(
    {"id": json_leaves, "ok": json_leaves},
    optional={"payload": json_values, "error": json_leaves, "eror": json_leaves},
)
json_payloads = st.one_of(
    json_values,
    telemetry_docs,
    answers,
    st.dictionaries(st.sampled_from(["node-1", "node 2", "", "GW-1"]), telemetry_docs),
).map(lambda doc: json.dumps(doc).encode())


def as_json(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return documents.map(lambda doc: json.dumps(doc).encode())


# Cayenne text: the real grammar with random types, units and values, plus its pieces glued
# together in random order and number.
value_texts = numbers.map(str) | st.sampled_from(["nan", "-1e400", "True", "[1,2]", "1e-07", ""])
cayenne_data = (
    st.builds(
        "{},{}={}".format,
        st.sampled_from(["temp", "lum", "", "rel hum"]),
        st.sampled_from(["c", "null", "", "lux", "%", "a,b"]),
        value_texts,
    )
    | value_texts
)
cayenne_answers = st.builds(
    "{},{}{}".format,
    st.sampled_from(["ok", "error", "OK"]),
    st.sampled_from(["0123abcd", "", "a b"]),
    st.sampled_from(["", "=", "=bad value, out of range"]),
) | st.sampled_from(["ok,0123abcd", "error,0123abcd=boom"])
cayenne_pieces = st.sampled_from(
    ["temp", "c", "null", ",", "=", "ok", "error", "20.7", " ", "\n", "\x00", "é", "0123abcd"]
)
cayenne_payloads = (
    cayenne_data.map(str.encode)
    | cayenne_answers.map(str.encode)
    | st.lists(cayenne_pieces | st.text(max_size=5), max_size=8).map(
        lambda parts: "".join(parts).encode()
    )
)
# SmartCitizen kits: the readings body with good and hostile parts, and the raw text form.
sc_sensors = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.integers(0, 200)
            | st.sampled_from(["temp", "55", " ", "x" * 101])
            | json_leaves,
            "value": numbers | json_leaves,
        }
    ),
    max_size=4,
)
good_sc_readings = st.fixed_dictionaries(
    {
        "data": st.lists(
            st.fixed_dictionaries(
                {
                    "recorded_at": st.sampled_from(["2023-11-14T22:15:00Z", "1700000000"]),
                    "sensors": st.lists(
                        st.fixed_dictionaries(
                            {"id": st.integers(0, 200) | st.just("temp"), "value": numbers}
                        ),
                        min_size=1,
                        max_size=4,
                    ),
                }
            ),
            min_size=1,
            max_size=3,
        )
    }
)
sc_readings = good_sc_readings | st.fixed_dictionaries(
    {
        "data": st.lists(
            st.fixed_dictionaries({"recorded_at": times | json_leaves, "sensors": sc_sensors}),
            max_size=3,
        )
        | json_leaves
    }
)
sc_raw_parts = st.sampled_from(
    ["t:2023-11-14T22:15:00Z", "t:1700000000", "t:", "1:2", "10:3.12", "5:null", "7:nan", ":", ","]
) | st.builds("{}:{}".format, st.integers(0, 200), value_texts)
sc_raw = st.lists(sc_raw_parts | st.text(max_size=6), max_size=6).map(
    lambda parts: ("{" + ",".join(parts) + "}").encode()
)
# Status: the words in any case and padding, the JSON form, and near misses.
status_words = st.sampled_from(["online", "offline", "ONLINE", "Offline", "on", "", "null"])
status_payloads = st.builds(
    "{}{}{}".format, st.sampled_from(["", " ", "\n"]), status_words, st.sampled_from(["", " "])
).map(str.encode) | as_json(
    st.fixed_dictionaries({"online": json_leaves}, optional={"ip": json_leaves}) | json_values
)
any_payload = (
    st.binary(max_size=300)
    | json_payloads
    | cayenne_payloads
    | sc_raw
    | sc_readings.map(lambda doc: json.dumps(doc).encode())
    | status_payloads
)


# Each valid topic with the payloads shaped for it (accepted fairly often), and anything else.
SHAPED: dict[str, st.SearchStrategy[bytes]] = {
    f"thingport/v1/devices/{THING}/telemetry": as_json(telemetry_docs),
    f"thingport/v1/devices/{THING}/properties": as_json(metric_maps | json_values),
    f"thingport/v1/devices/{THING}/responses": as_json(answers),
    f"thingport/v1/devices/{THING}/status": status_payloads,
    "thingport/v1/gateways/GW-1/telemetry": as_json(
        st.dictionaries(st.sampled_from(["node-1", "node 2", "", "GW-1"]), telemetry_docs)
    ),
    "thingport/v1/gateways/GW-1/devices/node-1/telemetry": as_json(telemetry_docs),
    "thingport/v1/gateways/GW-1/devices/node-1/responses": as_json(answers),
    "thingport/v1/gateways/GW-1/status": status_payloads,
    "thingport/v1/gateways/GW-1/devices/node-1/status": status_payloads,
    f"v1/{USER}/things/{THING}/data/1": cayenne_data.map(str.encode),
    f"v1/{USER}/things/{THING}/sys/model": cayenne_payloads,
    f"v1/{USER}/things/{THING}/response": cayenne_answers.map(str.encode),
    # The kit's token is the client's user name, so decoding goes past the identity check.
    f"device/sck/{USER}/readings": as_json(sc_readings),
    f"device/sck/{USER}/readings/raw": sc_raw,
    f"device/sck/{USER}/info": as_json(json_values),
    f"device/sck/{USER}/hello": any_payload,
}
VALID_TOPICS = list(SHAPED)
topics_with_payloads = st.sampled_from(VALID_TOPICS).flatmap(
    lambda topic: st.tuples(st.just(topic), SHAPED[topic] | any_payload)
)


def check_storable(topic: str, payload: bytes, messages: list[Inbound]) -> None:
    """What a codec accepts passes the telemetry service's own validation."""
    if not messages:  # only an empty status (clearing a retained message) says nothing
        assert topic.endswith("/status")
        assert payload == b""
        return
    for message in messages:
        if isinstance(message, TelemetryIn):
            assert message.readings
            for reading in message.readings:
                assert 0 < len(reading.key) <= MAX_KEY_LENGTH
                assert type(reading.value) is float
                assert math.isfinite(reading.value)
                assert abs(reading.value) <= MAX_ABS_VALUE
                assert reading.ts_ms is None or 0 <= reading.ts_ms <= MAX_TS_MS
                assert reading.unit is None or len(reading.unit) <= 32
        if isinstance(message, PresenceIn):
            assert type(message.online) is bool
            assert message.device_key


def decode_or_reject(topic: str, payload: bytes, client: ClientIdentity = CLIENT) -> None:
    codec = codec_for(topic)
    if codec is None:
        return
    try:
        messages = codec.decode(topic, payload, client, now_ms=NOW)
    except CodecError as error:
        reason = str(error)
    else:
        check_storable(topic, payload, messages)
        return
    assert reason  # always a reason
    assert len(reason) < 1000  # never the whole payload or topic


@settings(deadline=None)
@given(prefix=st.sampled_from(DEEP_PREFIXES), rest=st.text(max_size=40), payload=any_payload)
def test_random_topics_and_payloads(prefix: str, rest: str, payload: bytes) -> None:
    decode_or_reject(prefix + rest, payload)


@settings(deadline=None, max_examples=300)
@given(message=topics_with_payloads)
def test_valid_topics_with_hostile_payloads(message: tuple[str, bytes]) -> None:
    decode_or_reject(*message)


@settings(deadline=None)
@given(
    topic=st.sampled_from(VALID_TOPICS),
    payload=any_payload,
    client=st.builds(ClientIdentity, st.text(max_size=10), st.text(max_size=10)),
)
def test_any_client_identity(topic: str, payload: bytes, client: ClientIdentity) -> None:
    decode_or_reject(topic, payload, client)


commands = st.builds(
    CommandOut,
    command_id=st.text(max_size=70) | st.just("5d41402abc4b2a76"),
    device_key=st.text(max_size=70) | st.just(THING),
    channel=st.none() | st.text(max_size=12) | st.integers(0, 99).map(str),
    payload=json_values,
    username=st.none() | st.text(max_size=10) | st.just(USER),
    gateway=st.none() | st.text(max_size=10) | st.just("GW-1"),
)


@settings(deadline=None)
@given(codec_name=st.sampled_from([c.name for c in CODECS]), command=commands)
def test_encode_command_never_escapes(codec_name: str, command: CommandOut) -> None:
    codec = codec_named(codec_name)
    assert codec is not None
    try:
        topic, body = codec.encode_command(command)
    except CodecError:
        return
    # What is published is one concrete topic of this very convention, never a wildcard.
    assert not set("+#\0") & set(topic)
    assert codec_for(topic) is codec
    assert isinstance(body, bytes)
