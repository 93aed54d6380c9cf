"""External broker mode: Thingport is a client of Mosquitto, EMQX, ...

Every worker subscribes through MQTT 5 shared subscriptions (`$share/thingport/...`), so the
broker splits the load between workers. Messages are taken in batches, stored in one unit of
work, and only then acknowledged (paho's manual ack): the session is persistent (clean start
off, a session expiry), so whatever a killed worker had not acknowledged is redelivered when it
comes back with the same client id. Nothing the broker accepted from a device is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from thingport.core.commands.schemas import CommandDelivery
from thingport.platform import Platform
from thingport.transports.mqtt.codec import ClientIdentity, TopicCodec
from thingport.transports.mqtt.codecs.registry import CODECS, codec_for
from thingport.transports.mqtt.inbound import InboundHandler, Received
from thingport.transports.mqtt.routes import CommandRoutes

log = logging.getLogger(__name__)

SHARE_GROUP = "thingport"
SESSION_EXPIRY_S = 24 * 3600
BATCH_SIZE = 1000


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
        # (connection generation, message): message ids restart with a new session, so an ack
        # is sent only on the connection the message came from (never to a stranger's id).
        self._queue: asyncio.Queue[tuple[int, paho.MQTTMessage]] = asyncio.Queue()
        self._generation = 0
        self._consumer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # device key -> (codec name, MQTT user name) learnt from its traffic, to address commands
        self.routes = CommandRoutes()
        self._client = paho.Client(
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

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        # Without it a broker may hold us to its default of 20 unacknowledged messages, which
        # would cap every batch at 20 (acks are sent only after the batch commits).
        properties.ReceiveMaximum = BATCH_SIZE
        self._client.connect_async(
            self.address.host, self.address.port, clean_start=False, properties=properties
        )
        self._client.loop_start()
        self._consumer = asyncio.create_task(self._consume(), name="mqtt-bridge")
        self.platform.command_dispatchers.append(self)
        await asyncio.wait_for(self.connected.wait(), 10)

    async def stop(self, *, keep_session: bool = True) -> None:
        """Disconnect. By default the broker keeps the session, so messages that arrive while
        this worker restarts wait for it; keep_session=False ends the session for good (a worker
        removed from the pool, a test)."""
        if self in self.platform.command_dispatchers:
            self.platform.command_dispatchers.remove(self)
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        properties = None
        if not keep_session:
            properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 0
        self._client.disconnect(properties=properties)
        await asyncio.to_thread(self._client.loop_stop)

    # -- paho callbacks (on paho's network thread) --------------------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: object,
        _flags: object,
        reason: object,
        _properties: object,
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("external broker refused the connection: %s", reason)
            return
        self._generation += 1
        filters = [f for codec in self.codecs for f in codec.platform_subscriptions()]
        client.subscribe([(f"$share/{self.share_group}/{f}", 1) for f in filters])
        log.info(
            "connected to mqtt://%s:%d as %s", self.address.host, self.address.port, self.client_id
        )
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.connected.set)

    def _on_disconnect(
        self,
        _client: paho.Client,
        _userdata: object,
        _flags: object,
        reason: object,
        _properties: object,
    ) -> None:
        log.warning("disconnected from the external broker: %s", reason)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.connected.clear)

    def _on_message(
        self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage
    ) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (self._generation, message))

    # -- processing ---------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_SIZE and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            received = [
                Received(
                    ClientIdentity(client_id="", username="", broker_verified=True),
                    message.topic,
                    bytes(message.payload),
                )
                for _, message in batch
            ]
            try:
                await self.handler.handle_batch(received)
            except Exception:  # a database outage: do not ack, the broker redelivers
                log.exception("could not store a batch of %d MQTT messages", len(batch))
                await asyncio.sleep(1)
                for item in batch:
                    self._queue.put_nowait(item)
                continue
            self._learn_routes([message for _, message in batch])
            # Stored (or rejected for good, which is logged and counted): acknowledge, on the
            # connection that delivered it; after a reconnect the broker resends the rest.
            for generation, message in batch:
                if message.qos > 0 and generation == self._generation:
                    self._client.ack(message.mid, message.qos)

    def _learn_routes(self, batch: Sequence[paho.MQTTMessage]) -> None:
        for message in batch:
            parts = message.topic.split("/")
            if len(parts) > 3 and parts[0] == "v1" and parts[2] == "things":
                self.routes.learn(parts[3], "cayenne", parts[1])

    # -- commands -----------------------------------------------------------------------------

    async def dispatch(self, delivery: CommandDelivery) -> None:
        """Publish a committed command to its device, then record it as sent."""
        encoded = self.routes.encode(delivery)
        if encoded is None:
            return
        topic, payload = encoded
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            log.warning("command %s not published (rc=%s)", delivery.command_id, info.rc)
            return
        async with self.platform.core() as core:
            await core.commands.mark_sent(delivery.command_id)
