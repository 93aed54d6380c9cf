"""How to reach a device with a command: the convention (and MQTT user name) it last used.

Both broker modes encode commands the same way, from the route kept on the device's row
(`HeardRoute`: written by the ingest unit of work whenever a stored message shows a new one),
so a command recorded on one worker reaches a device that only another worker has heard. A
device never heard over MQTT gets the gateway convention when it has a parent (the gateway it
hangs off, `CommandDelivery.gateway`), else the native one. The gateway's key always comes from
the database, not from traffic: a sub-device moved to another gateway is reached through the
new one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple

from thingport.core.commands.schemas import CommandDelivery
from thingport.core.devices.schemas import HeardRoute
from thingport.kit.errors import InvalidInput
from thingport.transports.mqtt.codec import CodecError, CommandOut, Inbound
from thingport.transports.mqtt.codecs.registry import codec_named

if TYPE_CHECKING:
    from thingport.platform import Platform

log = logging.getLogger(__name__)

_NATIVE_PREFIX = "thingport/v1/devices/"
_CAYENNE_PREFIX = "v1/"


class Route(NamedTuple):
    codec: str
    username: str | None = None


def heard_route(topic: str, message: Inbound) -> HeardRoute | None:
    """The route a stored message shows for its device, if it shows one. A SmartCitizen kit
    takes no commands, and a gateway's own status on its gateway topic says nothing about how
    it takes them (its commands use its native topic)."""
    if message.gateway is not None:
        return HeardRoute("gateway")
    if topic.startswith(_NATIVE_PREFIX):
        return HeardRoute("native")
    if topic.startswith(_CAYENNE_PREFIX):
        return HeardRoute("cayenne", topic.split("/", 2)[1])
    return None


def route(delivery: CommandDelivery) -> Route:
    if delivery.convention is None:
        return Route("gateway" if delivery.gateway is not None else "native")
    if delivery.convention == "gateway" and delivery.gateway is None:
        return Route("native")  # detached from its gateway since it was last heard
    return Route(delivery.convention, delivery.username)


def encode(delivery: CommandDelivery) -> tuple[str, bytes]:
    """Topic and payload for the command; CodecError when its convention cannot carry it
    (a Cayenne channel that is not a number, a payload Cayenne has no text for, ...)."""
    chosen = route(delivery)
    codec = codec_named(chosen.codec)
    if codec is None:
        raise CodecError(f"no convention called {chosen.codec!r}")
    return codec.encode_command(
        CommandOut(
            command_id=delivery.command_id,
            device_key=delivery.device_key,
            channel=delivery.channel,
            payload=delivery.payload,
            username=chosen.username,
            gateway=delivery.gateway,
        )
    )


def check(delivery: CommandDelivery) -> None:
    """Refuse, before the command is recorded, what the device's convention as known now
    could not carry: the caller hears why at once instead of finding a failed command.
    A route learnt only later is caught at dispatch, which marks the command failed."""
    try:
        encode(delivery)
    except CodecError as error:
        raise InvalidInput(
            f"device {delivery.device_key!r} speaks the {route(delivery).codec} MQTT convention,"
            f" which cannot carry this command: {error}",
            field="channel" if "channel" in str(error) else "payload",
        ) from None


Publish = Callable[[str, bytes], Awaitable[bool]]


async def dispatch(platform: Platform, delivery: CommandDelivery, publish: Publish) -> None:
    """Claim the command, publish it with `publish`, then record it as sent. A command another
    worker (or transport) claimed first is left to that one; one that did not go out
    (`publish` returned False) is given back, so a later look for unclaimed commands retries
    it, on this worker or another."""
    async with platform.core() as core:
        if not await core.commands.claim(delivery.command_id, platform.worker_id):
            return
    try:
        topic, payload = encode(delivery)
    except CodecError as error:
        await undeliverable(platform, delivery, error)
        return
    if not await publish(topic, payload):
        async with platform.core() as core:
            await core.commands.release(delivery.command_id, platform.worker_id)
        return
    async with platform.core() as core:
        await core.commands.mark_sent(delivery.command_id)


async def undeliverable(platform: Platform, delivery: CommandDelivery, error: CodecError) -> None:
    """The command's convention cannot carry it (its route was learnt after it was checked):
    fail it now with the reason, instead of leaving it pending until it expires."""
    log.warning("command %s cannot be encoded: %s", delivery.command_id, error)
    async with platform.core() as core:
        await core.commands.fail(delivery.command_id, f"cannot be sent over MQTT: {error}")


class CommandCheck:
    """A `CommandDispatcher` that only checks: for a process without a broker connection (the
    CLI), so that a command is refused there as a worker would refuse it. It publishes nothing
    and claims nothing: a worker's look for unclaimed commands (app.py) publishes it."""

    def check(self, delivery: CommandDelivery) -> None:
        check(delivery)

    async def dispatch(self, delivery: CommandDelivery) -> None:
        return None
