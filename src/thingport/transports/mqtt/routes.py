"""How to reach a device with a command: the convention (and MQTT user name) it last used.

Both broker modes learn this from the device's own traffic and encode commands the same way.
A device not heard from in this process gets the gateway convention when it has a parent (the
gateway it hangs off, `CommandDelivery.gateway`), else the native one. The gateway's key always
comes from the database, not from traffic: a sub-device moved to another gateway is reached
through the new one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NamedTuple

from thingport.core.commands.schemas import CommandDelivery
from thingport.kit.errors import InvalidInput
from thingport.transports.mqtt.codec import CodecError, CommandOut
from thingport.transports.mqtt.codecs.registry import codec_named

if TYPE_CHECKING:
    from thingport.platform import Platform

log = logging.getLogger(__name__)


class Route(NamedTuple):
    codec: str
    username: str | None = None


class CommandRoutes:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def learn(self, device_key: str, codec_name: str, username: str | None = None) -> None:
        self._routes[device_key] = Route(codec_name, username)

    def route(self, delivery: CommandDelivery) -> Route:
        route = self._routes.get(delivery.device_key)
        if route is None:
            route = Route("gateway" if delivery.gateway is not None else "native")
        elif route.codec == "gateway" and delivery.gateway is None:
            route = Route("native")  # detached from its gateway since it was last heard
        return route

    def encode(self, delivery: CommandDelivery) -> tuple[str, bytes]:
        """Topic and payload for the command; CodecError when its convention cannot carry it
        (a Cayenne channel that is not a number, a payload Cayenne has no text for, ...)."""
        route = self.route(delivery)
        codec = codec_named(route.codec)
        if codec is None:  # pragma: no cover - names come from the registry
            raise CodecError(f"no convention called {route.codec!r}")
        return codec.encode_command(
            CommandOut(
                command_id=delivery.command_id,
                device_key=delivery.device_key,
                channel=delivery.channel,
                payload=delivery.payload,
                username=route.username,
                gateway=delivery.gateway,
            )
        )

    def check(self, delivery: CommandDelivery) -> None:
        """Refuse, before the command is recorded, what the device's convention as known now
        could not carry: the caller hears why at once instead of finding a failed command.
        A route learnt only later is caught at dispatch, which marks the command failed."""
        try:
            self.encode(delivery)
        except CodecError as error:
            route = self.route(delivery).codec
            raise InvalidInput(
                f"device {delivery.device_key!r} speaks the {route} MQTT convention, which "
                f"cannot carry this command: {error}",
                field="channel" if "channel" in str(error) else "payload",
            ) from None


async def undeliverable(platform: Platform, delivery: CommandDelivery, error: CodecError) -> None:
    """The command's convention cannot carry it (its route was learnt after it was checked):
    fail it now with the reason, instead of leaving it pending until it expires."""
    log.warning("command %s cannot be encoded: %s", delivery.command_id, error)
    async with platform.core() as core:
        await core.commands.fail(delivery.command_id, f"cannot be sent over MQTT: {error}")
