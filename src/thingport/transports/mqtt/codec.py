"""What a topic convention (a codec) turns MQTT traffic into, and back.

A codec is pure: topic and payload bytes in, plain inbound messages out; an outbound command in,
topic and payload bytes out. It does no I/O and no access checks. The transport looks up which
codec matches a topic, hands the decoded messages to the core in one unit of work, and uses the
codec again to publish commands. Each convention (native, Cayenne, SmartCitizen, gateway) is one
module in `codecs/` implementing `TopicCodec`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from thingport.core.telemetry.schemas import Reading

MAX_PAYLOAD_BYTES = 256 * 1024


class CodecError(ValueError):
    """A message that cannot be understood; the text is the reason, logged and counted."""


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The MQTT connection a message came from, as the broker authenticated it.

    `broker_verified` is set when Thingport reads from an external broker: it does not see the
    publisher's connection, the broker's ACL (see auth endpoints) has already confined the
    client to its own topics, so codecs skip their own identity checks.
    """

    client_id: str
    username: str
    broker_verified: bool = False


@dataclass(frozen=True, slots=True)
class TelemetryIn:
    """Readings for one device. `gateway` is set when a gateway published for a sub-device.

    `device_token` is set (and `device_key` empty) when the device names itself only by its
    device token (`DevicesService.issue_token`): the transport asks the core which device has
    it. With `sensor_keys` the readings' keys name sensors (a sensor id, or the key of a sensor
    of the device's kit), which the core turns into series keys (`Core.sensor_readings`).
    """

    device_key: str
    readings: Sequence[Reading]
    gateway: str | None = None
    device_token: str | None = None
    sensor_keys: bool = False


@dataclass(frozen=True, slots=True)
class PropertiesIn:
    """Device facts to merge into its free `properties` (firmware, model, cpu, ...).

    With `device_token` (see TelemetryIn) the device is found by its token. Empty
    `properties` only say the device was seen (a SmartCitizen `hello`)."""

    device_key: str
    properties: dict[str, Any]
    gateway: str | None = None
    device_token: str | None = None


@dataclass(frozen=True, slots=True)
class CommandAnswerIn:
    """A device's answer to a command, correlated by the command's id."""

    device_key: str
    command_id: str
    ok: bool
    message: str | None = None
    payload: Any = None
    gateway: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceIn:
    """A device says it is online or offline: its retained status message, or the Last Will
    the broker publishes for it when its connection drops without a DISCONNECT. On an external
    broker this is the only way Thingport learns of connections (TOPICS.md, presence)."""

    device_key: str
    online: bool
    gateway: str | None = None


Inbound = TelemetryIn | PropertiesIn | CommandAnswerIn | PresenceIn


@dataclass(frozen=True, slots=True)
class CommandOut:
    """A command to publish to a device."""

    command_id: str
    device_key: str
    channel: str | None
    payload: Any
    # Filled by the transport from the device's connection: Cayenne topics carry the MQTT user
    # name, gateway topics the gateway's key.
    username: str | None = None
    gateway: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class TopicCodec(Protocol):
    name: str

    def matches(self, topic: str) -> bool:
        """Whether this convention owns the topic (cheap: a prefix or pattern test)."""
        ...

    def decode(
        self, topic: str, payload: bytes, client: ClientIdentity, *, now_ms: int
    ) -> list[Inbound]:
        """Inbound messages of one publish; raises CodecError with the reason."""
        ...

    def encode_command(self, command: CommandOut) -> tuple[str, bytes]:
        """Topic and payload that deliver the command to the device."""
        ...

    def platform_subscriptions(self) -> list[str]:
        """Topic filters the platform subscribes to on an external broker."""
        ...

    def allowed_topics(self, client: ClientIdentity, device_keys: Sequence[str]) -> list[str]:
        """Topic filters a client may publish and subscribe to, given the devices it may act
        for (the ACL of the embedded broker and of the HTTP ACL endpoint)."""
        ...

    def topic_secret(self, topic: str) -> str | None:
        """A credential the topic carries (a device token), which logs must not show; None
        when the convention puts none in its topics."""
        ...
