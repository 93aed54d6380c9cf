"""External broker mode: Thingport is a client of Mosquitto, EMQX, ...

Every worker subscribes through MQTT 5 shared subscriptions (`$share/thingport/...`), so the
broker splits the load between workers. Messages are taken in batches, stored in one unit of
work, and only then acknowledged (paho's manual ack): the session is persistent (clean start
off, a session expiry), so whatever a killed worker had not acknowledged is redelivered when it
comes back with the same client id. Nothing the broker accepted from a device is lost.

paho is driven by the event loop (its documented external-loop mode), not by a thread of its
own: with a network thread, paho, the loop and the database driver's thread fought over the GIL
at every hand-off and a batch took ten times its own work (benchmarks/README.md, MQTT). The
loop also connects the socket, so nothing here blocks it, and reads it in large chunks that
paho then parses packet by packet without a system call each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from thingport.core.commands.schemas import CommandDelivery
from thingport.platform import Platform
from thingport.transports.mqtt import routes
from thingport.transports.mqtt.codec import ClientIdentity, TopicCodec
from thingport.transports.mqtt.codecs.registry import CODECS, codec_for
from thingport.transports.mqtt.inbound import InboundHandler, Received

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

log = logging.getLogger(__name__)

SHARE_GROUP = "thingport"
SESSION_EXPIRY_S = 24 * 3600
BATCH_SIZE = 1000
KEEPALIVE_S = 60
CONNECT_TIMEOUT_S = 10
RECONNECT_MAX_S = 60
READ_CHUNK = 256 * 1024
# Packets parsed per wake-up at most, so that a flood cannot keep the loop from the database.
PACKETS_PER_WAKEUP = 500
# The external broker's ACL vouched for every sender (see ClientIdentity).
_VIA_BROKER = ClientIdentity(client_id="", username="", broker_verified=True)


class _Delivery(NamedTuple):
    generation: int  # of the connection it came on: acks go back on that one only
    mid: int
    qos: int
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"broker URL {url!r} must look like mqtt://user:pass@host:1883")
        return cls(
            host=parts.hostname,
            port=parts.port or 1883,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class _BufferedSocket:
    """The broker connection as paho sees it. paho reads a packet in three `recv` calls (type,
    length, rest); served from one large read, a burst of small PUBLISHes costs one system
    call instead of three per message. `pending()` says bytes are buffered, as paho expects of
    TLS sockets; everything else is the socket's."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""
        self._position = 0

    def recv(self, size: int) -> bytes:
        if self._position >= len(self._buffer):
            self._buffer = self.sock.recv(READ_CHUNK)  # BlockingIOError: nothing there yet
            self._position = 0
        start = self._position
        self._position = min(start + size, len(self._buffer))
        return self._buffer[start : self._position]

    def pending(self) -> int:
        return len(self._buffer) - self._position

    def send(self, data: bytes | bytearray) -> int:
        return self.sock.send(data)

    def close(self) -> None:
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)


class _LoopClient(paho.Client):
    """paho on a socket the event loop connected (paho's own connect would block the loop),
    with a short path for the PUBLISH this bridge receives by the thousand."""

    next_socket: socket.socket | None = None
    # (topic, payload, mid) of a QoS 1 PUBLISH without MQTT 5 properties
    on_plain_publish: Callable[[str, bytes, int], None] | None = None

    def _create_socket(self) -> SocketLike:
        sock, self.next_socket = self.next_socket, None
        if sock is None:  # pragma: no cover - ExternalBroker always connects first
            raise ConnectionError("no connected socket to hand to paho")
        return _BufferedSocket(sock)

    def _handle_publish(self) -> MQTTErrorCode:
        """For a QoS 1 PUBLISH (manual ack) without properties, hand topic, payload and id
        straight over. paho builds an MQTT 5 Properties object and a message with its own lock
        for each PUBLISH: more than half of its time per message (benchmarks/README.md, MQTT).
        Anything else (QoS 0 or 2, properties, a topic that is not UTF-8) takes paho's path."""
        header = self._in_packet["command"]
        packet = self._in_packet["packet"]
        callback = self.on_plain_publish
        end = 2 + int.from_bytes(packet[0:2], "big")  # the topic's end
        if (
            callback is None
            or header & 0x06 != 0x02  # QoS 1
            or not self._manual_ack
            or self._protocol != paho.MQTTv5
            or len(packet) < end + 3
            or packet[end + 2] != 0  # property length 0
        ):
            return super()._handle_publish()
        try:
            topic = packet[2:end].decode("utf-8")
        except UnicodeDecodeError:
            return super()._handle_publish()
        callback(topic, bytes(packet[end + 3 :]), int.from_bytes(packet[end : end + 2], "big"))
        return MQTTErrorCode.MQTT_ERR_SUCCESS


class ExternalBroker:
    def __init__(
        self,
        platform: Platform,
        url: str,
        *,
        client_id: str,
        share_group: str = SHARE_GROUP,
        codecs: Sequence[TopicCodec] = CODECS,
    ) -> None:
        self.platform = platform
        self.address = BrokerAddress.parse(url)
        self.client_id = client_id
        self.share_group = share_group
        self.codecs = codecs
        self.handler = InboundHandler(platform, codec_for)
        self.connected = asyncio.Event()
        # Set once the broker has granted this connection's shared subscriptions (SUBACK):
        # from then on a device's publish reaches a worker. Cleared on a disconnection.
        self.subscribed = asyncio.Event()
        self._subscription_mid: int | None = None
        # (connection generation, message): message ids restart with a new session, so an ack
        # is sent only on the connection the message came from (never to a stranger's id).
        self._arrived: deque[_Delivery] = deque()
        self._wakeup = asyncio.Event()
        self._generation = 0
        self._session_resumed = False
        self._consumer: asyncio.Task[None] | None = None
        self._connection: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._socket: _BufferedSocket | None = None
        self._client = _LoopClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if self.address.username:
            self._client.username_pw_set(self.address.username, self.address.password)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_plain_publish = self._on_plain_publish
        self._client.on_socket_open = self._on_socket_open
        self._client.on_socket_close = self._on_socket_close
        self._client.on_socket_register_write = self._on_socket_register_write
        self._client.on_socket_unregister_write = self._on_socket_unregister_write

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        # Without it a broker may hold us to its default of 20 unacknowledged messages, which
        # would cap every batch at 20 (acks are sent only after the batch commits).
        properties.ReceiveMaximum = BATCH_SIZE
        # Only records the parameters; _connect() connects.
        self._client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=KEEPALIVE_S,
            clean_start=False,
            properties=properties,
        )
        self._connection = asyncio.create_task(self._keep_connected(), name="mqtt-connection")
        self._consumer = asyncio.create_task(self._consume(), name="mqtt-bridge")
        self.platform.command_dispatchers.append(self)
        await asyncio.wait_for(self.subscribed.wait(), 10)

    async def stop(self, *, keep_session: bool = True) -> None:
        """Disconnect. By default the broker keeps the session, so messages that arrive while
        this worker restarts wait for it; keep_session=False ends the session for good (a worker
        removed from the pool, a test)."""
        if self in self.platform.command_dispatchers:
            self.platform.command_dispatchers.remove(self)
        for task in (self._consumer, self._connection):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        properties = None
        if not keep_session:
            properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 0
        self._client.disconnect(properties=properties)
        # Flush what is queued (acks, DISCONNECT); paho closes the socket after DISCONNECT.
        for _ in range(100):
            if self._socket is None:
                break
            self._client.loop_write()
            await asyncio.sleep(0.01)
        if self._socket is not None:  # the broker stopped reading: give up on a clean goodbye
            self._on_socket_close(self._client, None, self._socket)
            self._socket.close()

    async def _keep_connected(self) -> None:
        """Connect, reconnect with a growing pause, and let paho send its keepalive pings."""
        pause = 1.0
        while True:
            if self._client.socket() is None:
                try:
                    await self._connect()
                except OSError as error:
                    log.warning(
                        "cannot reach the external broker mqtt://%s:%d (%s); retrying in %.0f s",
                        self.address.host,
                        self.address.port,
                        error,
                        pause,
                    )
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, RECONNECT_MAX_S)
                    continue
                pause = 1.0
            self._client.loop_misc()
            await asyncio.sleep(1)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        addresses = await loop.getaddrinfo(
            self.address.host, self.address.port, type=socket.SOCK_STREAM
        )
        problem: OSError = OSError("no address")
        for family, kind, protocol, _, address in addresses:
            sock = socket.socket(family, kind, protocol)
            sock.setblocking(False)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await loop.sock_connect(sock, address)
            except (OSError, TimeoutError) as error:
                sock.close()
                problem = error if isinstance(error, OSError) else OSError("timed out")
                continue
            # Acks of messages from an earlier connection are never sent on this one.
            self._generation += 1
            self._client.next_socket = sock
            self._client.reconnect()
            return
        raise problem

    # -- paho callbacks (all on the event loop) ----------------------------------------------

    def _on_socket_open(self, _client: paho.Client, _userdata: object, sock: Any) -> None:
        loop, raw = self._watch(sock)
        self._socket = sock
        loop.add_reader(raw, self._on_readable, sock)

    def _on_socket_close(self, _client: paho.Client, _userdata: object, sock: Any) -> None:
        loop, raw = self._watch(sock)
        if self._socket is sock:
            self._socket = None
        loop.remove_reader(raw)
        loop.remove_writer(raw)

    def _on_socket_register_write(self, _client: paho.Client, _userdata: object, sock: Any) -> None:
        loop, raw = self._watch(sock)
        loop.add_writer(raw, self._client.loop_write)

    def _on_socket_unregister_write(
        self, _client: paho.Client, _userdata: object, sock: Any
    ) -> None:
        loop, raw = self._watch(sock)
        loop.remove_writer(raw)

    def _watch(self, sock: object) -> tuple[asyncio.AbstractEventLoop, socket.socket]:
        assert self._loop is not None
        assert isinstance(sock, _BufferedSocket)
        return self._loop, sock.sock

    def _on_readable(self, sock: _BufferedSocket) -> None:
        # Everything one read brought in is parsed in this wake-up, not one packet per wake-up.
        for _ in range(PACKETS_PER_WAKEUP):
            if self._client.loop_read() != paho.MQTT_ERR_SUCCESS or self._socket is not sock:
                return
            if not sock.pending():
                return
        # More is buffered, where the selector cannot see it: come back after other work.
        assert self._loop is not None
        self._loop.call_soon(self._on_readable, sock)

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: object,
        flags: object,
        reason: object,
        _properties: object,
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("external broker refused the connection: %s", reason)
            return
        self._session_resumed = bool(getattr(flags, "session_present", False))
        if self._session_resumed:
            # The broker resends every unacknowledged QoS 1 message of the resumed session;
            # storing the copies still queued from the old connection as well would apply
            # readings stamped on arrival, answers and statuses twice.
            self._drop_stale(self._arrived)
        filters = [f for codec in self.codecs for f in codec.platform_subscriptions()]
        _, self._subscription_mid = client.subscribe(
            [(f"$share/{self.share_group}/{f}", 1) for f in filters]
        )
        log.info(
            "connected to mqtt://%s:%d as %s", self.address.host, self.address.port, self.client_id
        )
        self.connected.set()

    def _on_disconnect(
        self,
        _client: paho.Client,
        _userdata: object,
        _flags: object,
        reason: object,
        _properties: object,
    ) -> None:
        log.warning("disconnected from the external broker: %s", reason)
        self.connected.clear()
        self.subscribed.clear()

    def _on_subscribe(
        self,
        _client: paho.Client,
        _userdata: object,
        mid: int,
        reasons: list[Any],
        _properties: object,
    ) -> None:
        if mid != self._subscription_mid:
            return
        refused = [r for r in reasons if getattr(r, "is_failure", False)]
        if refused:  # the worker still serves the others, as before this was checked
            log.error("the external broker refused %d subscriptions: %s", len(refused), refused)
        self.subscribed.set()

    def _on_message(
        self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage
    ) -> None:
        payload = bytes(message.payload)
        self._arrive(_Delivery(self._generation, message.mid, message.qos, message.topic, payload))

    def _on_plain_publish(self, topic: str, payload: bytes, mid: int) -> None:
        self._arrive(_Delivery(self._generation, mid, 1, topic, payload))

    def _drop_stale(self, queue: deque[_Delivery]) -> None:
        current = [d for d in queue if d.qos == 0 or d.generation == self._generation]
        queue.clear()
        queue.extend(current)

    def _arrive(self, delivery: _Delivery) -> None:
        self._arrived.append(delivery)
        if not self._wakeup.is_set():
            self._wakeup.set()

    # -- processing ---------------------------------------------------------------------------

    async def _consume(self) -> None:
        arrived = self._arrived
        while True:
            await self._wakeup.wait()
            batch = [arrived.popleft() for _ in range(min(BATCH_SIZE, len(arrived)))]
            if not arrived:
                self._wakeup.clear()
            if not batch:
                continue
            received = [Received(_VIA_BROKER, d.topic, d.payload) for d in batch]
            try:
                await self.handler.handle_batch(received)
            except Exception:  # a database outage: do not ack, the broker redelivers
                log.exception("could not store a batch of %d MQTT messages", len(batch))
                await asyncio.sleep(1)
                # First again, in their order (an offline/online pair must not swap), unless
                # the broker resends them on a resumed session anyway.
                retry: deque[_Delivery] = deque(batch)
                if self._session_resumed:
                    self._drop_stale(retry)
                arrived.extendleft(reversed(retry))
                self._wakeup.set()
                continue
            # Stored (or rejected for good, which is logged and counted): acknowledge, on the
            # connection that delivered it; after a reconnect the broker resends the rest.
            for delivery in batch:
                if delivery.qos > 0 and delivery.generation == self._generation:
                    self._client.ack(delivery.mid, delivery.qos)

    # -- commands -----------------------------------------------------------------------------

    def check(self, delivery: CommandDelivery) -> None:
        routes.check(delivery)

    async def dispatch(self, delivery: CommandDelivery) -> None:
        """Publish a committed command to its device, then record it as sent."""
        await routes.dispatch(self.platform, delivery, self._publish)

    async def _publish(self, topic: str, payload: bytes) -> bool:
        info = self._client.publish(topic, payload, qos=1)
        if info.rc == paho.MQTT_ERR_NO_CONN:
            # Between reconnects paho keeps a QoS 1 message and sends it once connected again:
            # it is on its way, and publishing it again elsewhere would send it twice.
            log.info("command on %r queued until the broker is reachable again", topic[:200])
            return True
        if info.rc != paho.MQTT_ERR_SUCCESS:
            log.warning("command not published on %r (rc=%s)", topic[:200], info.rc)
            return False
        return True
