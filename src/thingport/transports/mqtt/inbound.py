"""From an MQTT publish to stored data: decode with the topic's codec, authorise as the
connected principal, apply in one unit of work.

`handle()` returns only after the commit, so a transport that acknowledges a QoS 1 message
after `handle()` returns never acknowledges data it did not store. Any rejection is counted
and logged with its reason, and never raises into the transport (one bad device must not take
the connection, or other clients, down).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from thingport.core.accounts.schemas import SYSTEM, Principal
from thingport.core.devices.service import DeviceRef
from thingport.core.telemetry.schemas import Reading
from thingport.core.telemetry.service import now_ms
from thingport.kit.errors import ThingportError
from thingport.platform import Core, Platform
from thingport.transports.mqtt.codec import (
    MAX_PAYLOAD_BYTES,
    ClientIdentity,
    CodecError,
    CommandAnswerIn,
    Inbound,
    PropertiesIn,
    TelemetryIn,
    TopicCodec,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    stored: bool
    points: int = 0
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """One publish. Without a principal the broker vouched for the sender (external mode)."""

    client: ClientIdentity
    topic: str
    payload: bytes
    principal: Principal | None = None


class InboundHandler:
    def __init__(self, platform: Platform, codec_for: Callable[[str], TopicCodec | None]) -> None:
        self.platform = platform
        self.codec_for = codec_for
        self.rejected: Counter[str] = Counter()  # reason kind -> count, for metrics and tests
        self.accepted = 0

    async def handle(
        self, client: ClientIdentity, principal: Principal, topic: str, payload: bytes
    ) -> Outcome:
        return (await self.handle_batch([Received(client, topic, payload, principal)]))[0]

    async def handle_batch(self, items: Sequence[Received]) -> list[Outcome]:
        """Store a batch in one unit of work; if one message of it is refused by the core, the
        others are stored one by one so a bad device cannot hold back good ones. Errors other
        than refusals (the database is down) propagate: nothing was stored, nothing may be
        acknowledged."""
        outcomes: list[Outcome | None] = [None] * len(items)
        decoded: list[tuple[int, list[Inbound]]] = []
        for index, item in enumerate(items):
            messages = self._decode(item)
            if isinstance(messages, Outcome):
                outcomes[index] = messages
            else:
                decoded.append((index, messages))
        try:
            async with self.platform.core() as core:
                await self._apply_batch(core, items, decoded, outcomes)
        except ThingportError:
            for index, messages in decoded:
                outcomes[index] = await self._apply_alone(items[index], messages)
        self.accepted += sum(1 for o in outcomes if o is not None and o.stored)
        return [o if o is not None else Outcome(stored=False) for o in outcomes]

    async def _apply_batch(
        self,
        core: Core,
        items: Sequence[Received],
        decoded: Sequence[tuple[int, list[Inbound]]],
        outcomes: list[Outcome | None],
    ) -> None:
        """One device lookup per device and one ingest per device for the whole batch: per
        message, the round trips cost ten times the work (benchmarks/README.md)."""
        devices: dict[tuple[int, str, str | None], DeviceRef] = {}
        readings: dict[int, tuple[DeviceRef, list[Reading]]] = {}
        for index, messages in decoded:
            principal = items[index].principal or SYSTEM
            points = 0
            for message in messages:
                lookup = (principal.user_id, message.device_key, message.gateway)
                device = devices.get(lookup)
                if device is None:
                    device = await self._device(
                        core, principal, message.device_key, message.gateway
                    )
                    devices[lookup] = device
                if isinstance(message, TelemetryIn):
                    readings.setdefault(device.id, (device, []))[1].extend(message.readings)
                    points += len(message.readings)
                else:
                    await self._apply(core, principal, [message])
            outcomes[index] = Outcome(stored=True, points=points)
        for device, batch in readings.values():
            await core.telemetry.ingest_for(device, batch)

    def _decode(self, item: Received) -> list[Inbound] | Outcome:
        if len(item.payload) > MAX_PAYLOAD_BYTES:
            return self._reject(item, "oversized", f"{len(item.payload)} bytes")
        codec = self.codec_for(item.topic)
        if codec is None:
            return self._reject(item, "unknown_topic", "no convention owns this topic")
        try:
            return codec.decode(item.topic, item.payload, item.client, now_ms=now_ms())
        except CodecError as error:
            return self._reject(item, "malformed", str(error))

    async def _apply_alone(self, item: Received, messages: list[Inbound]) -> Outcome:
        try:
            async with self.platform.core() as core:
                points = await self._apply(core, item.principal or SYSTEM, messages)
        except ThingportError as error:
            return self._reject(item, error.code, error.message)
        return Outcome(stored=True, points=points)

    async def _apply(self, core: Core, principal: Principal, messages: Sequence[Inbound]) -> int:
        points = 0
        for message in messages:
            device = await self._device(core, principal, message.device_key, message.gateway)
            if isinstance(message, TelemetryIn):
                points += await core.telemetry.ingest_for(device, message.readings)
            elif isinstance(message, PropertiesIn):
                await core.devices.merge_properties(device, message.properties)
                await core.devices.touch(device.id)
            elif isinstance(message, CommandAnswerIn):
                await core.commands.answer(
                    device,
                    message.command_id,
                    ok=message.ok,
                    message=message.message,
                    payload=message.payload,
                )
        return points

    async def _device(
        self, core: Core, principal: Principal, key: str, gateway: str | None
    ) -> DeviceRef:
        if gateway is not None:
            return await core.devices.resolve_via_gateway(principal, gateway, key)
        return await core.devices.resolve(principal, key, change=True)

    def _reject(self, item: Received, kind: str, reason: str) -> Outcome:
        self.rejected[kind] += 1
        log.warning(
            "rejected MQTT message from client %r on %r: %s (%s)",
            item.client.client_id,
            item.topic[:200],
            reason,
            kind,
        )
        return Outcome(stored=False, reason=f"{kind}: {reason}")
