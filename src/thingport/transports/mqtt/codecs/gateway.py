"""Gateways publishing for their sub-devices (Instathings-style): the native payloads under
`thingport/v1/gateways/{gateway_key}/devices/{sub_key}/...`, plus one batch topic carrying
several sub-devices' readings at once. Every decoded message names its gateway, so the transport
can check that each sub-device is a child of the gateway that spoke. TOPICS.md has the details.

`thingport/v1/gateways/{gateway_key}/status` is the gateway's own status (and usually its Last
Will): it lives under the gateway's prefix so that one ACL filter covers all a gateway sends.

A gateway's own readings and facts use the native device topics: it is a device like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from thingport.transports.mqtt.codec import (
    ClientIdentity,
    CodecError,
    CommandOut,
    Inbound,
    TelemetryIn,
)
from thingport.transports.mqtt.codecs.native import (
    DEVICE_KINDS,
    check_key,
    command_body,
    decode_device,
    decode_presence,
    is_key,
    kind_of,
    load_json,
    parse_telemetry,
    show,
)

PREFIX = "thingport/v1/gateways/"
_SHAPE = (
    "thingport/v1/gateways/{gateway_key}/telemetry|status or "
    "thingport/v1/gateways/{gateway_key}/devices/{sub_key}/telemetry|properties|responses|status"
)


def _batch(gateway: str, payload: bytes, now_ms: int) -> list[Inbound]:
    """`{sub_key: <native telemetry>, ...}`: one TelemetryIn per sub-device, in payload order."""
    document = load_json(payload)
    if not isinstance(document, dict):
        raise CodecError(
            f"telemetry: expected an object of sub-device key to telemetry, got {kind_of(document)}"
        )
    if not document:
        raise CodecError("telemetry: the object is empty")
    messages: list[Inbound] = []
    for sub_key, telemetry in document.items():
        check_key(sub_key, "sub-device key")
        readings = parse_telemetry(telemetry, now_ms, f"telemetry.{sub_key}")
        messages.append(TelemetryIn(sub_key, readings, gateway))
    return messages


class GatewayCodec:
    name = "gateway"

    def matches(self, topic: str) -> bool:
        return topic.startswith(PREFIX)

    def decode(
        self, topic: str, payload: bytes, client: ClientIdentity, *, now_ms: int
    ) -> list[Inbound]:
        parts = topic.split("/")
        if not topic.startswith(PREFIX) or len(parts) not in (5, 7):
            raise CodecError(f"topic {show(topic)} is not {_SHAPE}")
        gateway = check_key(parts[3], "gateway key")
        if len(parts) == 5:
            if parts[4] == "telemetry":
                return _batch(gateway, payload, now_ms)
            if parts[4] == "status":  # the gateway's own: it is a device, acting for itself
                return decode_presence(gateway, payload)
            raise CodecError(
                f"unknown gateway subtopic {show(parts[4], 40)}: only telemetry and status are "
                "published at gateway level; sub-devices use devices/{sub_key}/..."
            )
        if parts[4] != "devices":
            raise CodecError(f"topic {show(topic)} is not {_SHAPE}")
        sub_key = check_key(parts[5], "sub-device key")
        return decode_device(parts[6], sub_key, payload, now_ms=now_ms, gateway=gateway)

    def encode_command(self, command: CommandOut) -> tuple[str, bytes]:
        if command.gateway is None:
            raise CodecError("a gateway command needs the gateway's key (CommandOut.gateway)")
        gateway = check_key(command.gateway, "gateway key")
        sub_key = check_key(command.device_key, "sub-device key")
        return f"{PREFIX}{gateway}/devices/{sub_key}/commands", command_body(command)

    def platform_subscriptions(self) -> list[str]:
        return [f"{PREFIX}+/telemetry", f"{PREFIX}+/status"] + [
            f"{PREFIX}+/devices/+/{kind}" for kind in DEVICE_KINDS
        ]

    def topic_secret(self, topic: str) -> str | None:
        return None  # topics name devices by key, which is no secret

    def allowed_topics(self, client: ClientIdentity, device_keys: Sequence[str]) -> list[str]:
        # The whole subtree of each gateway the client may act for. Which sub-devices belong to
        # it is data the codec does not have: the transport checks each decoded `gateway`.
        return [f"{PREFIX}{key}/#" for key in device_keys if is_key(key)]
