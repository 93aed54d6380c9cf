"""The topic conventions the transport knows, and how a topic or a name finds its codec.

Each codec owns a disjoint topic prefix (`thingport/v1/devices/`, `thingport/v1/gateways/`,
`v1/`, `device/sck/`), so at most one matches a topic and the order below does not change the
answer.
"""

from __future__ import annotations

from thingport.transports.mqtt.codec import TopicCodec
from thingport.transports.mqtt.codecs.cayenne import CayenneCodec
from thingport.transports.mqtt.codecs.gateway import GatewayCodec
from thingport.transports.mqtt.codecs.native import NativeCodec
from thingport.transports.mqtt.codecs.smartcitizen import SmartCitizenCodec

CODECS: tuple[TopicCodec, ...] = (
    NativeCodec(),
    GatewayCodec(),
    CayenneCodec(),
    SmartCitizenCodec(),
)

_BY_NAME: dict[str, TopicCodec] = {codec.name: codec for codec in CODECS}


def codec_for(topic: str) -> TopicCodec | None:
    """The codec owning the topic, or None for a topic no convention knows."""
    for codec in CODECS:
        if codec.matches(topic):
            return codec
    return None


def codec_named(name: str) -> TopicCodec | None:
    """The codec called `name` ("native", "gateway", "cayenne", "smartcitizen"), or None."""
    return _BY_NAME.get(name)
