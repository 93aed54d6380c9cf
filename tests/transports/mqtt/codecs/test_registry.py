"""Routing a topic or a name to its codec."""

from __future__ import annotations

import pytest

from thingport.transports.mqtt.codecs.cayenne import CayenneCodec
from thingport.transports.mqtt.codecs.gateway import GatewayCodec
from thingport.transports.mqtt.codecs.native import NativeCodec
from thingport.transports.mqtt.codecs.registry import CODECS, codec_for, codec_named
from thingport.transports.mqtt.codecs.smartcitizen import SmartCitizenCodec


def test_four_codecs_with_unique_names() -> None:
    assert [codec.name for codec in CODECS] == ["native", "gateway", "cayenne", "smartcitizen"]


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("thingport/v1/devices/A1/telemetry", NativeCodec),
        ("thingport/v1/devices/", NativeCodec),
        ("thingport/v1/gateways/G1/devices/n1/telemetry", GatewayCodec),
        ("thingport/v1/gateways/G1/telemetry", GatewayCodec),
        ("v1/user/things/client/data/1", CayenneCodec),
        ("v1/user/things/client/sys/model", CayenneCodec),
        ("device/sck/0a1b2c/readings", SmartCitizenCodec),
        ("device/sck/0a1b2c/readings/raw", SmartCitizenCodec),
    ],
)
def test_codec_for_routes_by_prefix(topic: str, expected: type) -> None:
    assert isinstance(codec_for(topic), expected)


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "thingport/v1/device/A1/telemetry",
        "thingport/v2/devices/A1",
        "V1/u/things",
        "x",
        "device/inventory",
        "bridge/device/sck/0a1b2c/readings",
    ],
)
def test_unknown_topics_have_no_codec(topic: str) -> None:
    assert codec_for(topic) is None


def test_at_most_one_codec_owns_a_topic() -> None:
    # Every platform subscription of one codec is claimed by that codec alone.
    for codec in CODECS:
        for topic_filter in codec.platform_subscriptions():
            topic = topic_filter.replace("+", "x").replace("#", "y")
            assert [c.name for c in CODECS if c.matches(topic)] == [codec.name]


def test_codec_named() -> None:
    for codec in CODECS:
        assert codec_named(codec.name) is codec
    assert codec_named("sck") is None
