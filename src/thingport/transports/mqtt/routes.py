"""How to reach a device with a command: the convention (and MQTT user name) it last used.

Both broker modes learn this from the device's own traffic and encode commands the same way.
A device not heard from in this process gets the native convention.
"""

from __future__ import annotations

import logging

from thingport.core.commands.schemas import CommandDelivery
from thingport.transports.mqtt.codec import CodecError, CommandOut
from thingport.transports.mqtt.codecs.registry import codec_named

log = logging.getLogger(__name__)


class CommandRoutes:
    def __init__(self) -> None:
        self._routes: dict[str, tuple[str, str | None]] = {}

    def learn(self, device_key: str, codec_name: str, username: str | None = None) -> None:
        self._routes[device_key] = (codec_name, username)

    def encode(self, delivery: CommandDelivery) -> tuple[str, bytes] | None:
        """Topic and payload for the command, or None (logged) when it cannot be encoded."""
        codec_name, username = self._routes.get(delivery.device_key, ("native", None))
        codec = codec_named(codec_name)
        if codec is None:  # pragma: no cover - names come from the registry
            return None
        try:
            return codec.encode_command(
                CommandOut(
                    command_id=delivery.command_id,
                    device_key=delivery.device_key,
                    channel=delivery.channel,
                    payload=delivery.payload,
                    username=username,
                )
            )
        except CodecError as error:
            log.warning("command %s cannot be encoded: %s", delivery.command_id, error)
            return None
