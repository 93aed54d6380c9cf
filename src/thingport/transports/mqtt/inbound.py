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
from thingport.core.catalog.readings import SensorValue, sensor_readings
from thingport.core.devices.schemas import HeardRoute
from thingport.core.devices.service import DeviceRef
from thingport.core.telemetry.schemas import Reading
from thingport.core.telemetry.service import now_ms
from thingport.kit.errors import InvalidInput, NotFound, ThingportError
from thingport.platform import Core, Platform
from thingport.transports.mqtt.codec import (
    MAX_PAYLOAD_BYTES,
    ClientIdentity,
    CodecError,
    CommandAnswerIn,
    Inbound,
    PresenceIn,
    PropertiesIn,
    TelemetryIn,
    TopicCodec,
)
from thingport.transports.mqtt.routes import heard_route

log = logging.getLogger(__name__)

# Devices found by token: one lookup per token and batch (a kit's token -> device and kit).
_TokenCache = dict[str, tuple[DeviceRef, int | None] | None]


class UnknownToken(NotFound):
    code = "unknown_token"


class UnknownSensor(InvalidInput):
    code = "unknown_sensor"


def _token_of(messages: Sequence[Inbound]) -> str | None:
    """The device token a publish names its device by (SmartCitizen kits), if any. A codec's
    messages are all by token or all by key, so the first one tells."""
    first = messages[0] if messages else None
    return first.device_token if isinstance(first, TelemetryIn | PropertiesIn) else None


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
        """Store a batch in one unit of work. Messages for devices the sender may not change
        are rejected and the others stored; if the core refuses anything else (a bad reading),
        the batch is rolled back and its messages stored one by one, so a bad message cannot
        hold back good ones. Errors other than refusals (the database is down) propagate:
        nothing was stored, nothing may be acknowledged."""
        outcomes: list[Outcome | None] = [None] * len(items)
        decoded: list[tuple[int, list[Inbound]]] = []
        by_token: list[tuple[int, list[Inbound]]] = []
        for index, item in enumerate(items):
            messages = self._decode(item)
            if isinstance(messages, Outcome):
                outcomes[index] = messages
            elif _token_of(messages) is None:
                decoded.append((index, messages))
            else:  # kept apart so that the path of messages by device key stays as it was
                by_token.append((index, messages))
        if decoded or by_token:
            try:
                async with self.platform.core() as core:
                    refused = await self._apply_batch(core, items, decoded, outcomes)
                    if by_token:
                        refused += await self._apply_tokens(core, by_token, outcomes)
            except ThingportError:
                for index, messages in [*decoded, *by_token]:
                    outcomes[index] = await self._apply_alone(items[index], messages)
            else:
                # Counted and logged only now: a rolled back batch retries these alone.
                for index, error in refused:
                    outcomes[index] = self._reject(items[index], error.code, error.message)
        self.accepted += sum(1 for o in outcomes if o is not None and o.stored)
        return [o if o is not None else Outcome(stored=False) for o in outcomes]

    async def _apply_batch(
        self,
        core: Core,
        items: Sequence[Received],
        decoded: Sequence[tuple[int, list[Inbound]]],
        outcomes: list[Outcome | None],
    ) -> list[tuple[int, ThingportError]]:
        """One device lookup per sender, one gateway lookup per sub-device, and one ingest
        for all telemetry of the batch: per message or per device, the round trips cost many
        times the work (benchmarks/README.md). Returns the messages refused for their device
        (unknown, or not the sender's), which are left out; their outcome is set by the caller.
        """
        principals: dict[Principal, set[str]] = {}
        for index, messages in decoded:
            keys = principals.setdefault(items[index].principal or SYSTEM, set())
            keys.update(m.device_key for m in messages if m.gateway is None)
        direct: dict[Principal, dict[str, DeviceRef | ThingportError]] = {}
        for principal, keys in principals.items():
            found, refused = await core.devices.resolve_many(principal, list(keys))
            direct[principal] = {**found, **refused}
        via_gateway: dict[tuple[Principal, str, str], DeviceRef | ThingportError] = {}

        async def sub_device(
            principal: Principal, gateway: str, key: str
        ) -> DeviceRef | ThingportError:
            lookup = (principal, gateway, key)
            if lookup not in via_gateway:
                try:
                    via_gateway[lookup] = await core.devices.resolve_via_gateway(
                        principal, gateway, key
                    )
                except ThingportError as error:  # a lookup only: nothing to roll back
                    via_gateway[lookup] = error
            return via_gateway[lookup]

        rejected: list[tuple[int, ThingportError]] = []
        readings: dict[int, tuple[DeviceRef, list[Reading]]] = {}
        heard: dict[int, HeardRoute] = {}  # device id -> route of its last stored message
        for index, messages in decoded:
            principal = items[index].principal or SYSTEM
            known = direct[principal]
            targets = [
                known[m.device_key]
                if m.gateway is None
                else await sub_device(principal, m.gateway, m.device_key)
                for m in messages
            ]
            refusal = next((t for t in targets if isinstance(t, ThingportError)), None)
            if refusal is not None:
                rejected.append((index, refusal))
                continue
            points = 0
            for target, message in zip(targets, messages, strict=True):
                assert isinstance(target, DeviceRef)
                route = heard_route(items[index].topic, message)
                if route is not None:
                    heard[target.id] = route
                if isinstance(message, TelemetryIn) and message.readings:
                    readings.setdefault(target.id, (target, []))[1].extend(message.readings)
                    points += len(message.readings)
                else:
                    points += await self._apply_to(core, target, message)
            outcomes[index] = Outcome(stored=True, points=points)
        if readings:
            await core.telemetry.ingest_many(list(readings.values()))
        # In this unit of work: a route is kept exactly when its message is.
        await core.devices.record_routes(heard)
        return rejected

    async def _apply_tokens(
        self,
        core: Core,
        by_token: Sequence[tuple[int, list[Inbound]]],
        outcomes: list[Outcome | None],
    ) -> list[tuple[int, ThingportError]]:
        """Messages of devices named by their token: the token is the credential (the broker
        let the client publish only under its own token), so no principal is checked. Like
        `_apply_batch`, one ingest for all readings; returns the messages refused (unknown
        token or sensor), which are left out."""
        tokens: _TokenCache = {}
        rejected: list[tuple[int, ThingportError]] = []
        readings: dict[int, tuple[DeviceRef, list[Reading]]] = {}
        for index, messages in by_token:
            try:  # lookups only: a refusal leaves nothing to roll back
                resolved = [await self._by_token(core, m, tokens) for m in messages]
            except ThingportError as error:
                rejected.append((index, error))
                continue
            points = 0
            for device, message in resolved:
                if isinstance(message, TelemetryIn) and message.readings:
                    readings.setdefault(device.id, (device, []))[1].extend(message.readings)
                    points += len(message.readings)
                else:
                    points += await self._apply_to(core, device, message)
            outcomes[index] = Outcome(stored=True, points=points)
        if readings:
            await core.telemetry.ingest_many(list(readings.values()))
        return rejected

    async def _by_token(
        self, core: Core, message: Inbound, tokens: _TokenCache
    ) -> tuple[DeviceRef, Inbound]:
        """The device a message names by token, and the message as it applies to it: readings
        keyed by sensor reference become readings of the sensors' series (the code the
        SmartCitizen HTTP POST uses)."""
        token = message.device_token if isinstance(message, TelemetryIn | PropertiesIn) else None
        if token is None:  # pragma: no cover - only messages by token come here
            raise UnknownToken("the message names no device token")
        if token not in tokens:
            tokens[token] = await core.devices.resolve_token(token)
        found = tokens[token]
        if found is None:
            raise UnknownToken("no device has this token", field="token")
        device, type_id = found
        if not isinstance(message, TelemetryIn):
            return device, message
        # The codec stamps every reading (recorded_at is required); "now" only guards a type.
        arrived = now_ms()
        entries = [
            SensorValue(r.key, r.key, r.value, arrived if r.ts_ms is None else r.ts_ms)
            for r in message.readings
        ]
        stored, errors = await sensor_readings(
            core.catalog, core.telemetry, device.id, type_id, entries
        )
        if errors:
            raise UnknownSensor("; ".join(text for texts in errors.values() for text in texts))
        return device, TelemetryIn(device.key, stored)

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
                points = await self._apply(core, item, messages)
        except ThingportError as error:
            return self._reject(item, error.code, error.message)
        return Outcome(stored=True, points=points)

    async def _apply(self, core: Core, item: Received, messages: Sequence[Inbound]) -> int:
        principal = item.principal or SYSTEM
        points = 0
        tokens: _TokenCache = {}
        heard: dict[int, HeardRoute] = {}
        for message in messages:
            if _token_of([message]) is None:
                device = await self._device(core, principal, message.device_key, message.gateway)
                route = heard_route(item.topic, message)
                if route is not None:
                    heard[device.id] = route
            else:
                device, message = await self._by_token(core, message, tokens)
            points += await self._apply_to(core, device, message)
        await core.devices.record_routes(heard)
        return points

    async def _apply_to(self, core: Core, device: DeviceRef, message: Inbound) -> int:
        if isinstance(message, TelemetryIn):
            return await core.telemetry.ingest_for(device, message.readings)
        if isinstance(message, PropertiesIn):
            if message.properties:  # empty: only seen (a SmartCitizen hello)
                await core.devices.merge_properties(device, message.properties)
            await core.devices.touch(device.id)
        elif isinstance(message, PresenceIn):
            # Same access as telemetry: the device (or its gateway) was resolved for change.
            await core.devices.set_connected(device, message.online)
        elif isinstance(message, CommandAnswerIn):
            await core.commands.answer(
                device,
                message.command_id,
                ok=message.ok,
                message=message.message,
                payload=message.payload,
            )
        return 0

    async def _device(
        self, core: Core, principal: Principal, key: str, gateway: str | None
    ) -> DeviceRef:
        if gateway is not None:
            return await core.devices.resolve_via_gateway(principal, gateway, key)
        return await core.devices.resolve(principal, key, change=True)

    def _reject(self, item: Received, kind: str, reason: str) -> Outcome:
        self.rejected[kind] += 1
        client_id, topic = _without_device_token(item.client.client_id, item.topic[:200])
        log.warning(
            "rejected MQTT message from client %r on %r: %s (%s)",
            client_id,
            topic,
            reason.replace(item.topic, topic),
            kind,
        )
        return Outcome(stored=False, reason=f"{kind}: {reason}")


def _without_device_token(client_id: str, topic: str) -> tuple[str, str]:
    """A SmartCitizen kit's token is its only credential and sits in its topics (and often is
    its client id): keep it out of the log."""
    parts = topic.split("/")
    if len(parts) > 2 and parts[0] == "device" and parts[1] == "sck" and parts[2]:
        token = parts[2]
        parts[2] = "[FILTERED]"
        return ("[FILTERED]" if client_id == token else client_id), "/".join(parts)
    return client_id, topic
