"""The inbound handler knows no convention: how a message names its device (by key, by device
token) and whether its readings are keyed by sensor is what the codec decodes, and the secret a
topic carries is what the codec names. A codec made up here, with topics no real convention
has, gets the same treatment as SmartCitizen's."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.schemas import Reading
from thingport.platform import Platform
from thingport.transports.mqtt.codec import (
    ClientIdentity,
    CodecError,
    CommandOut,
    Inbound,
    TelemetryIn,
    TopicCodec,
)
from thingport.transports.mqtt.inbound import InboundHandler, Received

KIT_21 = 26  # SmartCitizen Kit 2.1 in the built-in catalogue; sensor 55 is its temperature
TS = 1_700_000_000_000
CLIENT = ClientIdentity(client_id="c1", username="alice")


class MadeUpCodec:
    """`made-up/key/{key}/{sensor}` and `made-up/secret/{token}/{sensor}`: one reading of the
    sensor named in the topic, payload its value."""

    name = "made-up"

    def matches(self, topic: str) -> bool:
        return topic.startswith("made-up/")

    def decode(
        self, topic: str, payload: bytes, client: ClientIdentity, *, now_ms: int
    ) -> list[Inbound]:
        _, how, name, sensor = topic.split("/")
        try:
            readings = [Reading(sensor, float(payload), TS)]
        except ValueError:
            # Quotes the topic cut short, as real codecs do: the log must filter it too.
            raise CodecError(f"{topic[:-1]}... carries no number") from None
        if how == "secret":
            return [TelemetryIn("", readings, device_token=name, sensor_keys=True)]
        return [TelemetryIn(name, readings, sensor_keys=True)]

    def encode_command(self, command: CommandOut) -> tuple[str, bytes]:
        raise CodecError("no commands")

    def platform_subscriptions(self) -> list[str]:
        return ["made-up/#"]

    def allowed_topics(self, client: ClientIdentity, device_keys: Sequence[str]) -> list[str]:
        return []

    def topic_secret(self, topic: str) -> str | None:
        parts = topic.split("/")
        return parts[2] if len(parts) > 2 and parts[1] == "secret" else None


CODEC: TopicCodec = MadeUpCodec()


def _codec_for(topic: str) -> TopicCodec | None:
    return CODEC if CODEC.matches(topic) else None


async def _kit(platform: Platform, owner: Account, key: str) -> tuple[int, str]:
    async with platform.core() as core:
        await core.catalog.install_builtin()
        device = await core.devices.create(owner.principal, DeviceCreate(key=key, type_id=KIT_21))
        token = await core.devices.issue_token(owner.principal, key)
    return device.id, token


async def _series(platform: Platform, device_id: int) -> dict[str, float | None]:
    async with platform.core() as core:
        series = (await core.telemetry.series_of_devices([device_id]))[device_id]
    return {s.key: s.last_value for s in series}


async def test_readings_keyed_by_sensor_go_to_the_sensors_series_by_key_and_by_token(
    platform: Platform, alice: Account
) -> None:
    by_key, _ = await _kit(platform, alice, "KIT-A")
    by_token, token = await _kit(platform, alice, "KIT-B")
    handler = InboundHandler(platform, _codec_for)
    outcomes = await handler.handle_batch(
        [
            Received(CLIENT, "made-up/key/KIT-A/55", b"21.5", alice.principal),
            Received(CLIENT, f"made-up/secret/{token}/55", b"19", alice.principal),
        ]
    )
    assert [o.stored for o in outcomes] == [True, True]
    assert await _series(platform, by_key) == {"55": 21.5}
    assert await _series(platform, by_token) == {"55": 19.0}


async def test_refusals_are_counted_and_logged_without_the_topics_secret(
    platform: Platform, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    device_id, token = await _kit(platform, alice, "KIT-C")
    other = "deadbe" if token != "deadbe" else "beefed"  # a token no device has
    handler = InboundHandler(platform, _codec_for)
    with caplog.at_level(logging.WARNING):
        outcomes = await handler.handle_batch(
            [
                Received(CLIENT, f"made-up/secret/{token}/99999", b"1", alice.principal),
                Received(ClientIdentity("deadbe", ""), "made-up/secret/deadbe/55", b"1", None),
                Received(CLIENT, "made-up/key/KIT-C/55", b"1", alice.principal),
            ]
        )
    assert [o.stored for o in outcomes] == [False, False, True]
    assert handler.rejected["unknown_sensor"] == 1
    assert handler.rejected["unknown_token"] == 1
    logged = [r.getMessage() for r in caplog.records if "rejected MQTT" in r.getMessage()]
    assert len(logged) == 2
    assert all(token not in line and other not in line for line in logged)
    assert "made-up/secret/[FILTERED]/99999" in logged[0]
    assert "client '[FILTERED]'" in logged[1]
    # The refused publish stored nothing; the good one of the same batch was stored.
    assert await _series(platform, device_id) == {"55": 1.0}


async def test_a_reason_quoting_the_topic_is_logged_without_its_secret(
    platform: Platform, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    _, token = await _kit(platform, alice, "KIT-D")
    handler = InboundHandler(platform, _codec_for)
    with caplog.at_level(logging.WARNING):
        [outcome] = await handler.handle_batch(
            [Received(CLIENT, f"made-up/secret/{token}/55", b"not a number", alice.principal)]
        )
    assert not outcome.stored
    assert handler.rejected["malformed"] == 1
    [logged] = [r.getMessage() for r in caplog.records if "rejected MQTT" in r.getMessage()]
    assert token not in logged
    assert "made-up/secret/[FILTERED]/5... carries no number" in logged
