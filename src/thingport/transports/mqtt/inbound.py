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
from thingport.core.catalog.sensor_readings import SensorValue
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

FILTERED = "[FILTERED]"

# A device found by token (its kit for readings keyed by sensor), or None: one lookup per token
# and batch.
_TokenCache = dict[str, tuple[DeviceRef, int | None] | None]
# Kits of devices found by key, looked up only for their readings keyed by sensor.
_TypeCache = dict[int, int | None]


class UnknownToken(NotFound):
    code = "unknown_token"


class UnknownSensor(InvalidInput):
    code = "unknown_sensor"


def _token_of(message: Inbound) -> str | None:
    """The device token a message names its device by, if it names it so."""
    return message.device_token if isinstance(message, TelemetryIn | PropertiesIn) else None


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
        for index, item in enumerate(items):
            messages = self._decode(item)
            if isinstance(messages, Outcome):
                outcomes[index] = messages
            else:
                decoded.append((index, messages))
        if decoded:
            try:
                async with self.platform.core() as core:
                    refused = await self._apply_batch(core, items, decoded, outcomes)
            except ThingportError:
                for index, messages in decoded:
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
        """One device lookup per sender, one per token and one per sub-device, and one ingest
        for all telemetry of the batch: per message or per device, the round trips cost many
        times the work (benchmarks/README.md). Returns the messages refused for their device
        (unknown, or not the sender's) or their sensors, which are left out; their outcome is
        set by the caller.
        """
        principals: dict[Principal, set[str]] = {}
        for index, messages in decoded:
            keys = principals.setdefault(items[index].principal or SYSTEM, set())
            keys.update(
                m.device_key for m in messages if m.gateway is None and _token_of(m) is None
            )
        direct: dict[Principal, dict[str, DeviceRef | ThingportError]] = {}
        for principal, keys in principals.items():
            found, refused = await core.devices.resolve_many(principal, list(keys))
            direct[principal] = {**found, **refused}
        via_gateway: dict[tuple[Principal, str, str], DeviceRef | ThingportError] = {}
        lookups = _Lookups()

        async def target(principal: Principal, message: Inbound) -> DeviceRef:
            if _token_of(message) is not None:
                return await lookups.by_token(core, message)
            if message.gateway is None:
                found = direct[principal][message.device_key]
            else:
                lookup = (principal, message.gateway, message.device_key)
                if lookup not in via_gateway:
                    try:
                        via_gateway[lookup] = await core.devices.resolve_via_gateway(
                            principal, message.gateway, message.device_key
                        )
                    except ThingportError as error:  # a lookup only: nothing to roll back
                        via_gateway[lookup] = error
                found = via_gateway[lookup]
            if isinstance(found, ThingportError):
                raise found
            return found

        rejected: list[tuple[int, ThingportError]] = []
        readings: dict[int, tuple[DeviceRef, list[Reading]]] = {}
        heard: dict[int, HeardRoute] = {}  # device id -> route of its last stored message
        for index, messages in decoded:
            principal = items[index].principal or SYSTEM
            try:  # lookups only: a refusal leaves nothing to roll back
                targets = [await target(principal, m) for m in messages]
                applied = [
                    await lookups.as_series(core, device, m)
                    for device, m in zip(targets, messages, strict=True)
                ]
            except ThingportError as error:
                rejected.append((index, error))
                continue
            points = 0
            for device, sent, message in zip(targets, messages, applied, strict=True):
                route = heard_route(items[index].topic, sent)
                if route is not None:
                    heard[device.id] = route
                if isinstance(message, TelemetryIn) and message.readings:
                    readings.setdefault(device.id, (device, []))[1].extend(message.readings)
                    points += len(message.readings)
                else:
                    points += await self._apply_to(core, device, message)
            outcomes[index] = Outcome(stored=True, points=points)
        if readings:
            await core.telemetry.ingest_many(list(readings.values()))
        # In this unit of work: a route is kept exactly when its message is.
        await core.devices.record_routes(heard)
        return rejected

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
        lookups = _Lookups()
        heard: dict[int, HeardRoute] = {}
        for message in messages:
            if _token_of(message) is not None:
                device = await lookups.by_token(core, message)
            else:
                device = await self._device(core, principal, message.device_key, message.gateway)
            route = heard_route(item.topic, message)
            if route is not None:
                heard[device.id] = route
            points += await self._apply_to(
                core, device, await lookups.as_series(core, device, message)
            )
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
        client_id, topic, secret = self._without_secret(item.client.client_id, item.topic[:200])
        if secret:
            # The reason may quote the topic (cut short) or the client id: filter the secret
            # itself, wherever it appears.
            reason = reason.replace(secret, FILTERED)
        log.warning(
            "rejected MQTT message from client %r on %r: %s (%s)",
            client_id,
            topic,
            reason,
            kind,
        )
        return Outcome(stored=False, reason=f"{kind}: {reason}")

    def _without_secret(self, client_id: str, topic: str) -> tuple[str, str, str | None]:
        """Client id and topic for the log, without the credential the codec says the topic
        carries (a device token), nor a client id that is that credential; and that secret."""
        codec = self.codec_for(topic)
        secret = codec.topic_secret(topic) if codec is not None else None
        if not secret:
            return client_id, topic, None
        parts = [FILTERED if part == secret else part for part in topic.split("/")]
        return (FILTERED if client_id == secret else client_id), "/".join(parts), secret


class _Lookups:
    """What the messages of one unit of work looked up about their devices, so that a batch
    asks once per token or device."""

    def __init__(self) -> None:
        self.tokens: _TokenCache = {}
        self.types: _TypeCache = {}

    async def by_token(self, core: Core, message: Inbound) -> DeviceRef:
        """The device a message names by its device token. The token is the credential (the
        broker let the client publish only under its own token), so no principal is checked."""
        token = _token_of(message)
        if token is None:  # pragma: no cover - only messages by token come here
            raise UnknownToken("the message names no device token")
        if token not in self.tokens:
            self.tokens[token] = await core.devices.resolve_token(token)
            found = self.tokens[token]
            if found is not None:
                self.types[found[0].id] = found[1]
        found = self.tokens[token]
        if found is None:
            raise UnknownToken("no device has this token", field="token")
        return found[0]

    async def as_series(self, core: Core, device: DeviceRef, message: Inbound) -> Inbound:
        """The message as it applies to the device: readings keyed by sensor become readings
        of the sensors' series (what the core does for every way such readings come in)."""
        if not isinstance(message, TelemetryIn) or not message.sensor_keys:
            return message
        if device.id not in self.types:
            # A kit is needed only to read sensor keys; a device found by token brought its own.
            self.types[device.id] = (await core.devices.get(SYSTEM, device.key)).type_id
        # The codec stamps every reading (recorded_at is required); "now" only guards a type.
        arrived = now_ms()
        entries = [
            SensorValue(r.key, r.key, r.value, arrived if r.ts_ms is None else r.ts_ms)
            for r in message.readings
        ]
        stored, refused = await core.sensor_readings(device.id, self.types[device.id], entries)
        if refused:
            raise UnknownSensor("; ".join(r.message for r in refused))
        return TelemetryIn(device.key, stored, message.gateway)
