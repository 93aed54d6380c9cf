from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import Account
from thingport.bus.events import CommandUpdated
from thingport.core.commands.schemas import CommandDelivery
from thingport.core.devices.schemas import DeviceCreate
from thingport.kit.errors import Conflict, InvalidInput, NotFound
from thingport.platform import Platform


class RecordingDispatcher:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.delivered: list[CommandDelivery] = []
        self.checked: list[CommandDelivery] = []

    def check(self, delivery: CommandDelivery) -> None:
        self.checked.append(delivery)

    async def dispatch(self, delivery: CommandDelivery) -> None:
        self.delivered.append(delivery)
        async with self.platform.core() as core:
            await core.commands.mark_sent(delivery.command_id)


@pytest.fixture
async def dispatcher(platform: Platform) -> RecordingDispatcher:
    recorder = RecordingDispatcher(platform)
    platform.command_dispatchers.append(recorder)
    return recorder


async def _device(platform: Platform, owner: Account, key: str = "RELAY-1") -> None:
    async with platform.core() as core:
        await core.devices.create(owner.principal, DeviceCreate(key=key))


async def test_command_life_cycle(
    platform: Platform, alice: Account, dispatcher: RecordingDispatcher
) -> None:
    await _device(platform, alice)
    events = platform.bus.subscribe(event_types=[CommandUpdated])
    async with platform.core() as core:
        sent = await core.commands.send(alice.principal, "RELAY-1", channel="2", payload=1)
        assert sent.state == "pending"
        assert dispatcher.delivered == []  # nothing leaves before the commit
    assert [d.command_id for d in dispatcher.delivered] == [sent.id]
    assert dispatcher.delivered[0].channel == "2"
    async with platform.core() as core:
        assert (await core.commands.get(alice.principal, sent.id)).state == "sent"
        device = await core.devices.resolve(alice.principal, "RELAY-1", change=True)
        answered = await core.commands.answer(device, sent.id, ok=True, payload={"v": 1})
    assert answered.state == "answered"
    assert answered.response == {"v": 1}
    states = []
    async for event in events:
        assert isinstance(event, CommandUpdated)
        states.append((event.state, event.device_key))
        if len(states) == 2:
            break
    assert states == [("sent", "RELAY-1"), ("answered", "RELAY-1")]
    async with platform.core() as core:
        device = await core.devices.resolve(alice.principal, "RELAY-1", change=True)
        with pytest.raises(Conflict):
            await core.commands.answer(device, sent.id, ok=False, message="late")


async def test_failed_answer_keeps_the_message(platform: Platform, alice: Account) -> None:
    await _device(platform, alice)
    async with platform.core() as core:
        sent = await core.commands.send(alice.principal, "RELAY-1", payload="reboot")
    async with platform.core() as core:
        device = await core.devices.resolve(alice.principal, "RELAY-1", change=True)
        failed = await core.commands.answer(device, sent.id, ok=False, message="busy")
    assert (failed.state, failed.error) == ("failed", "busy")


async def test_answers_are_correlated_to_their_device(
    platform: Platform, alice: Account, bob: Account
) -> None:
    await _device(platform, alice)
    await _device(platform, alice, "OTHER")
    async with platform.core() as core:
        sent = await core.commands.send(alice.principal, "RELAY-1", payload=1)
    async with platform.core() as core:
        other = await core.devices.resolve(alice.principal, "OTHER", change=True)
        with pytest.raises(NotFound):
            await core.commands.answer(other, sent.id, ok=True)
        with pytest.raises(NotFound):
            await core.commands.send(bob.principal, "RELAY-1", payload=1)
        with pytest.raises(NotFound) as hidden:
            await core.commands.get(bob.principal, sent.id)
        with pytest.raises(NotFound) as missing:
            await core.commands.get(bob.principal, "f" * 32)
    # Another tenant's command is indistinguishable from one that does not exist.
    assert hidden.value.field == missing.value.field == "command_id"
    hidden_text = hidden.value.message.replace(sent.id, "X")
    assert hidden_text == missing.value.message.replace("f" * 32, "X")


async def test_open_commands_expire(platform: Platform, alice: Account) -> None:
    await _device(platform, alice)
    async with platform.core() as core:
        short = await core.commands.send(
            alice.principal, "RELAY-1", payload=1, ttl=timedelta(milliseconds=1)
        )
        long = await core.commands.send(alice.principal, "RELAY-1", payload=2)
        with pytest.raises(InvalidInput):
            await core.commands.send(alice.principal, "RELAY-1", payload=3, ttl=timedelta(0))
    async with platform.core() as core:
        assert await core.commands.expire_due() == 1
    async with platform.core() as core:
        states = {c.id: c.state for c in await core.commands.for_device(alice.principal, "RELAY-1")}
    assert states == {short.id: "expired", long.id: "pending"}


async def test_rolled_back_command_is_never_delivered(
    platform: Platform, alice: Account, dispatcher: RecordingDispatcher
) -> None:
    await _device(platform, alice)
    with pytest.raises(RuntimeError):
        async with platform.core() as core:
            await core.commands.send(alice.principal, "RELAY-1", payload=1)
            raise RuntimeError("boom")
    assert dispatcher.delivered == []
