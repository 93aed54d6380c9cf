"""Embedded broker mode: `thingport serve` runs an MQTT 3.1.1 broker (amqtt) in its own loop.

* Every CONNECT is authenticated with `AccountsService.authenticate_mqtt` (an API token as the
  password, or MQTT credentials issued to a user); the principal is kept per client id.
  A SmartCitizen kit has only its device token: a CONNECT with an empty password whose user
  name (or, without one, client id) is a device token logs in as that device alone, with the
  topics `device/sck/{token}/#` and nothing else.
* ACL: a client publishes, subscribes and receives only within the topics the codecs allow for
  the devices its principal may change (`TopicCodec.allowed_topics`), computed once per
  connection.
* Durability: amqtt acknowledges a QoS 1 PUBLISH before its plugins see it, so the protocol
  handler is replaced by `_CommitBeforeAckHandler`, which hands each incoming publish to
  `EmbeddedBroker.process` and sends the PUBACK only after the commit. amqtt handles every
  publish in a task of its own; `process` parks it while one task stores everything that
  arrived meanwhile, from all clients, with `InboundHandler.handle_batch` in one unit of work
  (one per message cost most of the time, benchmarks/README.md). A message that is refused
  for good (malformed, unknown device) is still acknowledged: it will never become valid. When
  the store fails (the database is down) the connection is closed without PUBACK and the client
  sends the message again after reconnecting.
* Presence: a client whose client id is the key of one of its devices, or that logged in
  with a device token, sets that device connected / disconnected (a gateway's devices go
  offline with it). Status messages (TOPICS.md) work here too and agree with the session;
  amqtt's Wills are not stored, the closing session does their work.
* Commands: the broker is a `CommandDispatcher`; commands go out with amqtt's internal
  broadcast, in the convention (codec) the device was last heard in (kept on its row,
  routes.py); a subscription to a device's command topic counts as being heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import amqtt.broker  # type: ignore[import-untyped]
from amqtt.broker import Broker
from amqtt.contexts import Action  # type: ignore[import-untyped]
from amqtt.errors import BrokerError  # type: ignore[import-untyped]
from amqtt.mqtt.protocol.broker_handler import (  # type: ignore[import-untyped]
    BrokerProtocolHandler,
)
from amqtt.plugins.base import (  # type: ignore[import-untyped]
    BaseAuthPlugin,
    BasePlugin,
    BaseTopicPlugin,
)
from amqtt.session import INCOMING  # type: ignore[import-untyped]

from thingport.core.accounts.schemas import Principal, PrincipalKind
from thingport.core.commands.schemas import CommandDelivery
from thingport.core.devices.schemas import HeardRoute
from thingport.core.devices.service import DeviceRef
from thingport.kit.errors import ThingportError
from thingport.platform import Platform
from thingport.transports.mqtt import routes
from thingport.transports.mqtt.auth_http import filter_within, valid_filter
from thingport.transports.mqtt.codec import ClientIdentity, TopicCodec
from thingport.transports.mqtt.codecs.native import is_key
from thingport.transports.mqtt.codecs.registry import CODECS, codec_for
from thingport.transports.mqtt.codecs.smartcitizen import token_topics
from thingport.transports.mqtt.inbound import InboundHandler, Outcome, Received

log = logging.getLogger(__name__)

_PLUGINS = __name__
BATCH_SIZE = 1000
# Who a client logged in with a device token acts as: nobody. Its messages name their device
# by the token, which is the credential; a principal that owns nothing and is no admin makes
# sure that nothing else it might send could be stored on anyone's behalf.
KIT_PRINCIPAL = Principal(user_id=-1, username="device-token", kind=PrincipalKind.DEVICE)


@dataclass(slots=True)
class Connection:
    """An authenticated client: who it is and the topic filters it may use."""

    identity: ClientIdentity
    principal: Principal
    filters: list[str]
    device_keys: frozenset[str]
    # the device a client that logged in with its device token is (SmartCitizen kits)
    device: DeviceRef | None = None
    # live network connections with this client id (a take-over briefly makes it two)
    live: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


# amqtt broker -> the EmbeddedBroker running it, for the protocol handler (one class for all)
_RUNNING: weakref.WeakKeyDictionary[Any, EmbeddedBroker] = weakref.WeakKeyDictionary()


class EmbeddedBroker:
    def __init__(
        self,
        platform: Platform,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        codecs: Sequence[TopicCodec] = CODECS,
    ) -> None:
        self.platform = platform
        self.host = host
        self.requested_port = port
        self.codecs = codecs
        self.handler = InboundHandler(platform, codec_for)
        self.refused: Counter[str] = Counter()  # refused connects, publishes, subscriptions
        self.connections: dict[str, Connection] = {}
        self._broker: Any = None
        # publishes waiting for the next batch, each with the future its amqtt task awaits
        self._pending: list[tuple[Received, asyncio.Future[Outcome]]] = []
        self._arrived = asyncio.Event()
        self._storer: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the broker listens on (the real one when started with port 0)."""
        if self._broker is None:
            return self.requested_port
        sockets = self._broker._servers["default"].instance.sockets
        port: int = sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        amqtt.broker.BrokerProtocolHandler = _CommitBeforeAckHandler
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.requested_port}"}},
            # Giving the plugins replaces amqtt's defaults (anonymous login, $SYS topics).
            "plugins": {
                f"{_PLUGINS}.ThingportAuthPlugin": {"embedded": self},
                f"{_PLUGINS}.ThingportTopicPlugin": {"embedded": self},
                f"{_PLUGINS}.ThingportPresencePlugin": {"embedded": self},
            },
        }
        broker = Broker(config)
        # amqtt logs its own traceback for a failed bind before raising; the raised error below
        # already says what to do, so a person sees one clear line, not a stack trace.
        amqtt_log = logging.getLogger("amqtt.broker")
        level = amqtt_log.level
        amqtt_log.setLevel(logging.CRITICAL)
        try:
            await broker.start()
        except BrokerError as error:
            if isinstance(error.__cause__, OSError):
                raise RuntimeError(
                    f"cannot start the embedded MQTT broker on {self.host}:{self.requested_port}"
                    f" ({error.__cause__.strerror or error.__cause__}); choose another port"
                    " with --mqtt-port, or --mqtt-port 0 to run without it"
                ) from error
            raise
        finally:
            amqtt_log.setLevel(level)
        self._broker = broker
        _RUNNING[broker] = self
        self._storer = asyncio.create_task(self._store_batches(), name="mqtt-embedded-store")
        self.platform.command_dispatchers.append(self)
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self in self.platform.command_dispatchers:
            self.platform.command_dispatchers.remove(self)
        broker, self._broker = self._broker, None
        if broker is None:
            return
        await broker.shutdown()
        _RUNNING.pop(broker, None)
        if self._storer is not None:
            self._storer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._storer
            self._storer = None
        for _, future in self._pending:  # their clients are gone: nothing to acknowledge
            future.cancel()
        self._pending.clear()
        # Whoever was still connected is not any more.
        for client_id, connection in list(self.connections.items()):
            if connection.live > 0:
                connection.live = 0
                await self._presence(client_id, connection, connected=False)
        self.connections.clear()

    # -- authentication and ACL ---------------------------------------------------------------

    async def authenticate(
        self, client_id: str, username: str | None, password: str | None
    ) -> bool:
        if client_id and not password:
            return await self._authenticate_token(client_id, username or client_id)
        if not client_id or not username or not password:
            self.refused["connect"] += 1
            log.warning("refused MQTT client %r: no user name or password", client_id)
            return False
        try:
            async with self.platform.core() as core:
                principal = await core.accounts.authenticate_mqtt(username, password)
                keys = await core.devices.changeable_keys(principal)
        except ThingportError as error:
            self.refused["connect"] += 1
            log.warning("refused MQTT client %r (user %r): %s", client_id, username, error.message)
            return False
        identity = ClientIdentity(client_id=client_id, username=username)
        filters = [f for codec in self.codecs for f in codec.allowed_topics(identity, keys)]
        previous = self.connections.get(client_id)
        connection = Connection(identity, principal, filters, frozenset(keys))
        if previous is not None:  # a take-over: the old network connection is being closed
            connection.live, connection.lock = previous.live, previous.lock
        self.connections[client_id] = connection
        return True

    async def _authenticate_token(self, client_id: str, token: str) -> bool:
        """A SmartCitizen kit: the token is its only credential, and it acts as that device."""
        found = None
        if is_key(token):  # else it could never have been issued, nor be put in a filter
            async with self.platform.core() as core:
                found = await core.devices.resolve_token(token)
        if found is None:
            self.refused["connect"] += 1
            log.warning("refused MQTT client %r: no password and not a device token", client_id)
            return False
        identity = ClientIdentity(client_id=client_id, username=token)
        previous = self.connections.get(client_id)
        connection = Connection(
            identity, KIT_PRINCIPAL, token_topics(token), frozenset(), device=found[0]
        )
        if previous is not None:  # a take-over, as in `authenticate`
            connection.live, connection.lock = previous.live, previous.lock
        self.connections[client_id] = connection
        return True

    def allowed(self, client_id: str | None, topic: str) -> bool:
        connection = self.connections.get(client_id or "")
        if connection is None or not valid_filter(topic):
            return False
        return any(filter_within(topic, allowed) for allowed in connection.filters)

    async def check_topic(self, client_id: str | None, topic: str | None, action: Any) -> bool:
        if topic is None:
            return False
        if self.allowed(client_id, topic):
            if action == Action.SUBSCRIBE and client_id is not None:
                await self._learn_route(client_id, topic)
            return True
        if action != Action.RECEIVE:
            self.refused[str(action)] += 1
            log.warning("MQTT client %r may not %s %r", client_id, action, topic[:200])
        return False

    # -- incoming publishes (before the PUBACK) ----------------------------------------------

    async def process(self, client_id: str, topic: str, payload: bytes) -> Outcome:
        """Store one publish; returns after the commit. Raises only when nothing could be
        stored for a reason that may pass (the database is down): then no PUBACK is sent."""
        connection = self.connections.get(client_id)
        if connection is None or not self.allowed(client_id, topic):
            self.handler.rejected["forbidden_topic"] += 1
            log.warning("MQTT client %r may not publish to %r", client_id, topic[:200])
            return Outcome(stored=False, reason="forbidden_topic")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        # Batches are stored one after another in arrival order, so one client's messages are
        # stored in the order amqtt read them.
        self._pending.append(
            (Received(connection.identity, topic, payload, connection.principal), future)
        )
        self._arrived.set()
        return await future

    async def _store_batches(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                batch = self._pending[:BATCH_SIZE]
                del self._pending[:BATCH_SIZE]
                try:
                    outcomes = await self.handler.handle_batch([item for item, _ in batch])
                except Exception as error:  # the database is down: no PUBACK for any of them
                    log.exception("could not store a batch of %d MQTT messages", len(batch))
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(RuntimeError(f"the batch was not stored: {error}"))
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():  # its client may have gone meanwhile
                        future.set_result(outcome)

    async def _learn_route(self, client_id: str, topic: str) -> None:
        """A device subscribing to its own topics shows its convention before it publishes
        anything (the Cayenne client subscribes to `cmd/+` first): keep that route. Published
        messages record theirs in the ingest unit of work (inbound.py)."""
        connection = self.connections.get(client_id)
        codec = codec_for(topic)
        parts = topic.split("/")
        if connection is None or codec is None or len(parts) < 4:
            return
        # Only a subscription to the command topic itself: a dashboard that follows a
        # device's native topics (`thingport/v1/devices/KEY/#`) says nothing of how the device
        # takes commands, and the route it would write is every worker's.
        found: tuple[str, HeardRoute] | None = None
        if codec.name == "cayenne" and parts[3] in connection.device_keys and parts[4:5] == ["cmd"]:
            found = parts[3], HeardRoute("cayenne", connection.identity.username)
        elif (
            codec.name == "native"
            and parts[3] in connection.device_keys
            and parts[4:] == ["commands"]
        ):
            found = parts[3], HeardRoute("native")
        elif (
            codec.name == "gateway"
            and parts[3] in connection.device_keys
            and len(parts) > 5
            and parts[4] == "devices"
            and is_key(parts[5])  # not a wildcard of a subscription
            and parts[6:] == ["commands"]
        ):
            found = parts[5], HeardRoute("gateway")
        if found is None:
            return
        key, heard = found
        try:
            async with self.platform.core() as core:
                if heard.convention == "gateway":
                    device = await core.devices.resolve_via_gateway(
                        connection.principal, parts[3], key
                    )
                else:
                    device = await core.devices.resolve(connection.principal, key, change=True)
                await core.devices.record_routes({device.id: heard})
        except ThingportError as error:  # a subscription to a device it may not reach
            log.info("route of %r not recorded: %s", key, error.message)

    # -- presence -----------------------------------------------------------------------------

    async def client_connected(self, client_id: str) -> None:
        connection = self.connections.get(client_id)
        if connection is None:
            return
        connection.live += 1
        if connection.live == 1:
            await self._presence(client_id, connection, connected=True)

    async def client_disconnected(self, client_id: str) -> None:
        connection = self.connections.get(client_id)
        if connection is None or connection.live == 0:
            return
        connection.live -= 1
        if connection.live == 0:
            await self._presence(client_id, connection, connected=False)

    async def _presence(self, client_id: str, connection: Connection, *, connected: bool) -> None:
        if connection.device is None and client_id not in connection.device_keys:
            return
        try:
            async with connection.lock, self.platform.core() as core:
                device = connection.device or await core.devices.resolve(
                    connection.principal, client_id, change=True
                )
                await core.devices.set_connected(device, connected)
        except ThingportError as error:
            log.warning("presence of %r not recorded: %s", client_id, error.message)

    # -- commands -----------------------------------------------------------------------------

    def check(self, delivery: CommandDelivery) -> None:
        routes.check(delivery)

    async def dispatch(self, delivery: CommandDelivery) -> None:
        """Publish a committed command to its device, then record it as sent."""
        if self._broker is None:
            return
        await routes.dispatch(self.platform, delivery, self._publish)

    async def _publish(self, topic: str, payload: bytes) -> bool:
        broker = self._broker
        if broker is None:  # stopped meanwhile
            return False
        await broker.internal_message_broadcast(topic, payload, 1)
        return True


# -- amqtt plugins (found by dotted path; their config carries the EmbeddedBroker) ---------------


class ThingportAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    @dataclass
    class Config:
        embedded: Any = None

    async def authenticate(self, *, session: Any) -> bool:
        embedded: EmbeddedBroker = self.config.embedded
        password = session.password
        if isinstance(password, bytes | bytearray):
            password = password.decode("utf-8", "replace")
        return await embedded.authenticate(session.client_id, session.username, password)


class ThingportTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    @dataclass
    class Config:
        embedded: Any = None

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Any = None
    ) -> bool:
        embedded: EmbeddedBroker = self.config.embedded
        client_id = session.client_id if session is not None else None
        return await embedded.check_topic(client_id, topic, action)


class ThingportPresencePlugin(BasePlugin):  # type: ignore[misc]
    @dataclass
    class Config:
        embedded: Any = None

    async def on_broker_client_connected(self, *, client_id: str, client_session: Any) -> None:
        embedded: EmbeddedBroker = self.config.embedded
        await embedded.client_connected(client_id)

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Any) -> None:
        embedded: EmbeddedBroker = self.config.embedded
        await embedded.client_disconnected(client_id)


def _already_stored(session: Any, app_message: Any) -> bool:
    """A resent QoS 2 publish whose first copy is still in flight (its PUBREC got lost) was
    stored when it first came: storing it again would break exactly-once. (A QoS 0 publish
    never carries the DUP flag; a QoS 1 resend is stored again, as at-least-once allows.)"""
    packet = app_message.publish_packet
    return bool(
        app_message.qos == 2
        and packet is not None
        and packet.dup_flag
        and app_message.packet_id in session.inflight_in
    )


class _CommitBeforeAckHandler(BrokerProtocolHandler):  # type: ignore[misc]
    """amqtt's handler, storing each incoming publish (QoS 0, 1 and 2) before it is
    acknowledged (PUBACK, or for QoS 2 the PUBREC that starts its handshake) and handed to
    amqtt's delivery (ACL check, fan-out to subscribers)."""

    async def _handle_message_flow(self, app_message: Any) -> None:
        broker = getattr(self.plugins_manager.context, "_broker_instance", None)
        embedded = _RUNNING.get(broker) if broker is not None else None
        session = self.session
        if (
            embedded is not None
            and session is not None
            and app_message.direction == INCOMING
            and not _already_stored(session, app_message)
        ):
            try:
                await embedded.process(
                    session.client_id, app_message.topic, bytes(app_message.data)
                )
            except Exception:
                log.exception(
                    "could not store a publish of MQTT client %r; closing it without PUBACK",
                    session.client_id,
                )
                if self.writer is not None:
                    await self.writer.close()
                return
        await super()._handle_message_flow(app_message)
