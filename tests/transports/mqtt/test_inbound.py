"""InboundHandler.handle_batch: a batch of publishes in one unit of work, on both backends.

No broker here: the batch path is what both broker modes call, and what matters is which
messages are stored (once), which are rejected and why, and what the last values become.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.conftest import Account
from thingport.core.accounts.schemas import Principal
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.service import TelemetryService
from thingport.platform import Platform
from thingport.transports.mqtt.codec import ClientIdentity
from thingport.transports.mqtt.codecs.registry import codec_for
from thingport.transports.mqtt.inbound import InboundHandler, Outcome, Received

T0 = 1_700_000_000  # seconds
CLIENT = ClientIdentity(client_id="c1", username="alice")
EXTERNAL = ClientIdentity(client_id="", username="", broker_verified=True)


def telemetry(key: str, second: int, **values: float) -> tuple[str, bytes]:
    body = {"ts": T0 + second, "values": values}
    return f"thingport/v1/devices/{key}/telemetry", orjson.dumps(body)


def received(
    principal: Principal | None, *messages: tuple[str, bytes], client: ClientIdentity = CLIENT
) -> list[Received]:
    return [Received(client, topic, payload, principal) for topic, payload in messages]


async def create(
    platform: Platform, owner: Account, *keys: str, public: bool = False, parent: str | None = None
) -> None:
    async with platform.core() as core:
        for key in keys:
            data = DeviceCreate(key=key, public=public, parent=parent)
            await core.devices.create(owner.principal, data)


async def stored(
    platform: Platform, owner: Account, key: str
) -> dict[str, list[tuple[int, float]]]:
    """Every stored point of the device, per series key."""
    async with platform.core() as core:
        device = await core.devices.resolve(owner.principal, key)
        series = (await core.telemetry.series_of_devices([device.id]))[device.id]
        raw = await core.telemetry.store.raw(
            core.telemetry.uow.session, [s.id for s in series], 0, 2**62
        )
    return {s.key: raw.get(s.id, []) for s in series}


async def last_values(
    platform: Platform, owner: Account, key: str
) -> dict[str, tuple[float | None, int | None]]:
    async with platform.core() as core:
        device = await core.devices.resolve(owner.principal, key)
        series = (await core.telemetry.series_of_devices([device.id]))[device.id]
    return {s.key: (s.last_value, s.last_ts) for s in series}


async def test_mixed_batch_stores_the_good_and_rejects_the_rest_with_reasons(
    platform: Platform, alice: Account, bob: Account
) -> None:
    await create(platform, alice, "A1", "A2")
    await create(platform, bob, "B-PRIVATE")
    await create(platform, bob, "B-PUBLIC", public=True)
    handler = InboundHandler(platform, codec_for)
    batch = received(
        alice.principal,
        telemetry("A1", 1, t=1.0, h=10.0),
        telemetry("NO-SUCH", 1, t=5.0),
        telemetry("A2", 1, t=2.0),
        telemetry("B-PRIVATE", 1, t=6.0),
        ("thingport/v1/devices/A1/telemetry", b"not json"),
        telemetry("B-PUBLIC", 1, t=7.0),
        telemetry("A1", 2, t=3.0, h=30.0),
    )

    outcomes = await handler.handle_batch(batch)

    assert [o.stored for o in outcomes] == [True, False, True, False, False, False, True]
    assert [o.points for o in outcomes if o.stored] == [2, 1, 2]
    # The same codes and texts as a message handled on its own (devices.resolve's errors).
    assert outcomes[1].reason == "not_found: device 'NO-SUCH' not found"
    assert outcomes[3].reason == "not_found: device 'B-PRIVATE' not found"
    assert outcomes[5].reason == "forbidden: you may read device 'B-PUBLIC' but not change it"
    assert str(outcomes[4].reason).startswith("malformed: ")
    assert handler.accepted == 3
    assert handler.rejected == {"not_found": 2, "forbidden": 1, "malformed": 1}

    assert await stored(platform, alice, "A1") == {
        "t": [((T0 + 1) * 1000, 1.0), ((T0 + 2) * 1000, 3.0)],
        "h": [((T0 + 1) * 1000, 10.0), ((T0 + 2) * 1000, 30.0)],
    }
    assert await stored(platform, alice, "A2") == {"t": [((T0 + 1) * 1000, 2.0)]}
    assert await stored(platform, bob, "B-PRIVATE") == {}
    assert await stored(platform, bob, "B-PUBLIC") == {}


async def test_values_are_stored_once_and_last_values_follow_time_not_arrival(
    platform: Platform, alice: Account
) -> None:
    await create(platform, alice, "A1", "A2")
    handler = InboundHandler(platform, codec_for)
    # Out of order within the batch, and the same (device, time) twice: the later one wins.
    first = received(
        alice.principal,
        telemetry("A1", 5, t=5.0),
        telemetry("A2", 1, t=1.0),
        telemetry("A1", 3, t=3.0),
        telemetry("A2", 2, t=2.0),
        telemetry("A2", 2, t=2.5),
    )
    assert all(o.stored for o in await handler.handle_batch(first))
    # A redelivered batch (no PUBACK reached the broker) overwrites, never duplicates; an
    # older point does not move the last value back.
    second = [*first, *received(alice.principal, telemetry("A1", 4, t=4.0))]
    assert all(o.stored for o in await handler.handle_batch(second))

    assert await stored(platform, alice, "A1") == {
        "t": [((T0 + 3) * 1000, 3.0), ((T0 + 4) * 1000, 4.0), ((T0 + 5) * 1000, 5.0)]
    }
    assert await stored(platform, alice, "A2") == {
        "t": [((T0 + 1) * 1000, 1.0), ((T0 + 2) * 1000, 2.5)]
    }
    assert await last_values(platform, alice, "A1") == {"t": (5.0, (T0 + 5) * 1000)}
    assert await last_values(platform, alice, "A2") == {"t": (2.5, (T0 + 2) * 1000)}


async def test_external_broker_batch_acts_as_the_platform(
    platform: Platform, alice: Account, bob: Account
) -> None:
    """Without a principal the broker's ACL vouched for the sender: any existing device."""
    await create(platform, alice, "A1")
    await create(platform, bob, "B1")
    handler = InboundHandler(platform, codec_for)
    outcomes = await handler.handle_batch(
        received(
            None,
            telemetry("A1", 1, t=1.0),
            telemetry("NO-SUCH", 1, t=1.0),
            telemetry("B1", 1, t=2.0),
            client=EXTERNAL,
        )
    )
    assert outcomes == [
        Outcome(stored=True, points=1),
        Outcome(stored=False, reason="not_found: device 'NO-SUCH' not found"),
        Outcome(stored=True, points=1),
    ]
    assert await last_values(platform, alice, "A1") == {"t": (1.0, (T0 + 1) * 1000)}
    assert await last_values(platform, bob, "B1") == {"t": (2.0, (T0 + 1) * 1000)}


async def test_gateway_sub_devices_in_a_batch(platform: Platform, alice: Account) -> None:
    await create(platform, alice, "GW")
    await create(platform, alice, "NODE-1", "NODE-2", parent="GW")
    await create(platform, alice, "LONER")
    handler = InboundHandler(platform, codec_for)
    root = "thingport/v1/gateways/GW/devices"
    outcomes = await handler.handle_batch(
        received(
            alice.principal,
            (f"{root}/NODE-1/telemetry", b'{"ts": 1700000001, "values": {"t": 1}}'),
            (f"{root}/LONER/telemetry", b'{"t": 9}'),
            (f"{root}/NODE-2/telemetry", b'{"ts": 1700000001, "values": {"t": 2}}'),
            (f"{root}/NODE-1/telemetry", b'{"ts": 1700000002, "values": {"t": 3}}'),
        )
    )
    assert [o.stored for o in outcomes] == [True, False, True, True]
    assert outcomes[1].reason == "not_found: device 'LONER' is not attached to gateway 'GW'"
    assert await stored(platform, alice, "NODE-1") == {
        "t": [((T0 + 1) * 1000, 1.0), ((T0 + 2) * 1000, 3.0)]
    }
    assert await stored(platform, alice, "NODE-2") == {"t": [((T0 + 1) * 1000, 2.0)]}
    assert await stored(platform, alice, "LONER") == {}


async def test_a_refusal_beyond_the_device_falls_back_to_one_by_one(
    platform: Platform, alice: Account
) -> None:
    """An answer to an unknown command is refused inside the unit of work: the batch is
    rolled back and retried message by message, so the good ones are stored exactly once."""
    await create(platform, alice, "A1", "A2")
    handler = InboundHandler(platform, codec_for)
    outcomes = await handler.handle_batch(
        received(
            alice.principal,
            telemetry("A1", 1, t=1.0),
            ("thingport/v1/devices/A2/responses", b'{"id": "nope", "ok": true}'),
            telemetry("NO-SUCH", 1, t=1.0),
            telemetry("A2", 1, t=2.0),
        )
    )
    assert outcomes == [
        Outcome(stored=True, points=1),
        Outcome(stored=False, reason="not_found: command 'nope' not found for this device"),
        Outcome(stored=False, reason="not_found: device 'NO-SUCH' not found"),
        Outcome(stored=True, points=1),
    ]
    assert handler.rejected == {"not_found": 2}
    assert await stored(platform, alice, "A1") == {"t": [((T0 + 1) * 1000, 1.0)]}
    assert await stored(platform, alice, "A2") == {"t": [((T0 + 1) * 1000, 2.0)]}


async def test_a_database_error_propagates_and_stores_nothing(
    platform: Platform, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transport must not acknowledge: the exception reaches it, nothing is committed."""
    await create(platform, alice, "A1")
    handler = InboundHandler(platform, codec_for)
    batch = received(alice.principal, telemetry("A1", 1, t=1.0), telemetry("A1", 2, t=2.0))

    ingest_many = TelemetryService.ingest_many

    async def outage(self: TelemetryService, *args: Any, **kwargs: Any) -> int:
        # The points are written in the batch's transaction, which then fails: only a rollback
        # keeps them out (raising before the write would leave nothing to check).
        await ingest_many(self, *args, **kwargs)
        raise OSError("the database went away")

    monkeypatch.setattr(TelemetryService, "ingest_many", outage)
    with pytest.raises(OSError, match="went away"):
        await handler.handle_batch(batch)
    monkeypatch.undo()
    assert await stored(platform, alice, "A1") == {}
    assert handler.accepted == 0
