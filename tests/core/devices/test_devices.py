from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Account
from thingport.core.accounts.schemas import Principal
from thingport.core.devices.schemas import DeviceCreate, DeviceUpdate
from thingport.core.devices.status import derive_status
from thingport.core.groups.schemas import GroupCreate
from thingport.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from thingport.platform import Platform


def test_status_is_derived_from_last_seen() -> None:
    now = datetime(2024, 1, 1, 12, tzinfo=UTC)
    window = timedelta(minutes=10)

    def status(last_seen: datetime | None, state: str = "active") -> str:
        return derive_status(
            admin_state=state, last_seen_at=last_seen, now=now, online_window=window
        )

    assert status(None) == "new"
    assert status(now - timedelta(minutes=9, seconds=59)) == "online"
    assert status(now - timedelta(minutes=10)) == "online"
    assert status(now - timedelta(minutes=10, seconds=1)) == "offline"
    assert status(now, "deactivated") == "deactivated"
    assert status(now, "blocked") == "blocked"


async def test_create_with_chosen_or_generated_key(platform: Platform, alice: Account) -> None:
    async with platform.core() as core:
        chosen = await core.devices.create(alice.principal, DeviceCreate(key="SERIAL-0001"))
        generated = await core.devices.create(alice.principal, DeviceCreate(name="x"))
    assert chosen.key == "SERIAL-0001"
    assert len(generated.key) == 16
    assert int(generated.key, 16) >= 0
    assert chosen.status == "new"
    assert chosen.owner_id == alice.principal.user_id
    async with platform.core() as core:
        with pytest.raises(Conflict):
            await core.devices.create(alice.principal, DeviceCreate(key="SERIAL-0001"))


async def test_parent_children_and_cycles(platform: Platform, alice: Account) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="GW"))
        await core.devices.create(alice.principal, DeviceCreate(key="S1", parent="GW"))
        await core.devices.create(alice.principal, DeviceCreate(key="S2", parent="GW"))
    async with platform.core() as core:
        gateway = await core.devices.get(alice.principal, "GW")
        assert gateway.children == ["S1", "S2"]
        assert (await core.devices.get(alice.principal, "S1")).parent == "GW"
        with pytest.raises(InvalidInput):
            await core.devices.update(alice.principal, "GW", DeviceUpdate(parent="S1"))
        with pytest.raises(InvalidInput):
            await core.devices.update(alice.principal, "GW", DeviceUpdate(parent="GW"))
        with pytest.raises(InvalidInput):
            await core.devices.create(alice.principal, DeviceCreate(key="S3", parent="NOPE"))


async def test_another_tenants_device_is_missing(
    platform: Platform, alice: Account, bob: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="ALICE-1"))
    async with platform.core() as core:
        with pytest.raises(NotFound) as missing:
            await core.devices.get(bob.principal, "ALICE-1")
        with pytest.raises(NotFound) as absent:
            await core.devices.get(bob.principal, "NEVER-EXISTED")
        assert str(missing.value).replace("ALICE-1", "X") == str(absent.value).replace(
            "NEVER-EXISTED", "X"
        )
        with pytest.raises(NotFound):
            await core.devices.update(bob.principal, "ALICE-1", DeviceUpdate(name="mine"))
        assert [d.key for d in await core.devices.list_visible(bob.principal)] == []


async def test_group_share_gives_read_not_write(
    platform: Platform, alice: Account, bob: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="SHARED"))
        group = await core.groups.create(alice.principal, GroupCreate(name="lab"))
        await core.groups.add_member(alice.principal, group.id, bob.principal.user_id)
        await core.groups.share_device(alice.principal, group.id, "SHARED")
    async with platform.core() as core:
        bob_now = await core.accounts.authenticate_token(bob.token)
        assert group.id in bob_now.group_ids
        assert (await core.devices.get(bob_now, "SHARED")).key == "SHARED"
        assert [d.key for d in await core.devices.list_visible(bob_now)] == ["SHARED"]
        with pytest.raises(Forbidden):
            await core.devices.update(bob_now, "SHARED", DeviceUpdate(name="bob's"))


async def test_public_device_readable_by_anyone(platform: Platform, alice: Account) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="PUB", public=True))
    async with platform.core() as core:
        assert (await core.devices.get(None, "PUB")).public is True
        stranger = Principal(user_id=999_999, username="x")
        with pytest.raises(Forbidden):
            await core.devices.update(stranger, "PUB", DeviceUpdate(name="hijack"))


async def test_partial_update_changes_only_sent_fields(platform: Platform, alice: Account) -> None:
    async with platform.core() as core:
        await core.devices.create(
            alice.principal,
            DeviceCreate(key="D", name="n", description="d", address="a", properties={"k": 1}),
        )
    async with platform.core() as core:
        updated = await core.devices.update(alice.principal, "D", DeviceUpdate(name="new"))
    assert (updated.name, updated.description, updated.address) == ("new", "d", "a")
    assert updated.properties == {"k": 1}
    async with platform.core() as core:
        cleared = await core.devices.update(alice.principal, "D", DeviceUpdate(description=None))
    assert cleared.description is None
    assert cleared.name == "new"


async def test_presence_overrides_the_clock_and_is_announced(
    platform: Platform, alice: Account
) -> None:
    from thingport.bus.events import DeviceConnected, DeviceDisconnected

    events = platform.bus.subscribe(event_types=[DeviceConnected, DeviceDisconnected])
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="LIVE"))
    for connected, status in ((True, "online"), (False, "offline")):
        async with platform.core() as core:
            ref = await core.devices.resolve(alice.principal, "LIVE", change=True)
            await core.devices.set_connected(ref, connected)
        async with platform.core() as core:
            assert (await core.devices.get(alice.principal, "LIVE")).status == status
    kinds = []
    async for event in events:
        kinds.append(type(event))
        if len(kinds) == 2:
            break
    assert kinds == [DeviceConnected, DeviceDisconnected]


async def test_gateway_acts_for_its_sub_devices_only(platform: Platform, alice: Account) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="GW"))
        await core.devices.create(alice.principal, DeviceCreate(key="SUB", parent="GW"))
        await core.devices.create(alice.principal, DeviceCreate(key="LONE"))
    async with platform.core() as core:
        sub = await core.devices.resolve_via_gateway(alice.principal, "GW", "SUB")
        assert sub.key == "SUB"
        with pytest.raises(NotFound):
            await core.devices.resolve_via_gateway(alice.principal, "GW", "LONE")
        await core.devices.merge_properties(sub, {"firmware": "2.1"})
        await core.devices.merge_properties(sub, {"model": "x"})
    async with platform.core() as core:
        props = (await core.devices.get(alice.principal, "SUB")).properties
    assert props == {"firmware": "2.1", "model": "x"}
