"""Groups through the service: membership roles, sharing, and what they grant on devices."""

from __future__ import annotations

import pytest

from tests.conftest import Account, make_account
from thingport.core.accounts.schemas import SYSTEM, Principal, UserCreate
from thingport.core.devices.schemas import DeviceCreate, DeviceUpdate
from thingport.core.groups.schemas import GroupCreate, GroupRole
from thingport.kit.errors import Conflict, Forbidden, NotFound
from thingport.kit.listing import ListQuery
from thingport.platform import Platform


async def _fresh(platform: Platform, account: Account) -> Principal:
    """The principal the account's token gives now, memberships included."""
    async with platform.core() as core:
        return await core.accounts.authenticate_token(account.token)


async def _lab(platform: Platform, owner: Account) -> int:
    """A group created by `owner`, who administers it."""
    async with platform.core() as core:
        group = await core.groups.create(owner.principal, GroupCreate(name="lab"))
    return group.id


async def _add(
    platform: Platform, by: Account, group_id: int, who: Account, role: GroupRole
) -> None:
    async with platform.core() as core:
        await core.groups.add_member(by.principal, group_id, who.principal.user_id, role)


@pytest.fixture
async def carol(platform: Platform) -> Account:
    return await make_account(platform, "carol")


@pytest.fixture
async def dave(platform: Platform) -> Account:
    return await make_account(platform, "dave")


@pytest.fixture
async def root(platform: Platform) -> Principal:
    async with platform.core() as core:
        user = await core.accounts.create_user(
            UserCreate(username="root", email="root@example.com", role="admin")
        )
        issued = await core.accounts.issue_api_key(user.id, "test")
        return await core.accounts.authenticate_token(issued.token)


async def test_the_creator_administers_the_new_group(platform: Platform, alice: Account) -> None:
    async with platform.core() as core:
        created = await core.groups.create(alice.principal, GroupCreate(name="lab"))
    assert (created.name, created.owner_id, created.role) == (
        "lab",
        alice.principal.user_id,
        GroupRole.ADMINISTRATOR,
    )
    principal = await _fresh(platform, alice)
    assert principal.group_ids == {created.id}
    assert principal.admin_group_ids == {created.id}
    async with platform.core() as core:
        assert [g.id for g in await core.groups.list_mine(principal)] == [created.id]
        assert (await core.groups.get(principal, created.id)).role is GroupRole.ADMINISTRATOR
        members = await core.groups.members(principal, created.id)
    assert [(m.username, m.role) for m in members] == [("alice", GroupRole.ADMINISTRATOR)]
    # Only a person joins a group: the platform itself does not create one.
    async with platform.core() as core:
        with pytest.raises(Forbidden):
            await core.groups.create(SYSTEM, GroupCreate(name="system's"))


async def test_only_administrators_manage_members(
    platform: Platform, alice: Account, bob: Account, carol: Account, root: Principal
) -> None:
    group_id = await _lab(platform, alice)
    await _add(platform, alice, group_id, bob, GroupRole.MEMBER)
    async with platform.core() as core:
        with pytest.raises(Forbidden):
            await core.groups.add_member(bob.principal, group_id, carol.principal.user_id)
    async with platform.core() as core:
        promoted = await core.groups.set_role(
            alice.principal, group_id, bob.principal.user_id, GroupRole.ADMINISTRATOR
        )
    assert promoted.role is GroupRole.ADMINISTRATOR
    await _add(platform, bob, group_id, carol, GroupRole.MEMBER)
    async with platform.core() as core:
        with pytest.raises(Forbidden):
            await core.groups.remove_member(carol.principal, group_id, bob.principal.user_id)
        with pytest.raises(Conflict):
            await core.groups.add_member(alice.principal, group_id, carol.principal.user_id)
        with pytest.raises(NotFound):
            await core.groups.add_member(alice.principal, group_id, 999_999)
    # A member may leave on their own.
    async with platform.core() as core:
        await core.groups.remove_member(carol.principal, group_id, carol.principal.user_id)
    # A platform admin manages a group without belonging to it.
    async with platform.core() as core:
        await core.groups.add_member(root, group_id, carol.principal.user_id, GroupRole.MEMBER)
        members = await core.groups.members(root, group_id)
    assert [(m.username, m.role) for m in members] == [
        ("alice", GroupRole.ADMINISTRATOR),
        ("bob", GroupRole.ADMINISTRATOR),
        ("carol", GroupRole.MEMBER),
    ]
    assert (await _fresh(platform, carol)).admin_group_ids == frozenset()
    assert (await _fresh(platform, bob)).admin_group_ids == {group_id}


async def test_a_group_keeps_an_administrator(
    platform: Platform, alice: Account, bob: Account
) -> None:
    group_id = await _lab(platform, alice)
    await _add(platform, alice, group_id, bob, GroupRole.MEMBER)
    async with platform.core() as core:
        with pytest.raises(Conflict):
            await core.groups.remove_member(alice.principal, group_id, alice.principal.user_id)
        with pytest.raises(Conflict):
            await core.groups.set_role(
                alice.principal, group_id, alice.principal.user_id, GroupRole.MEMBER
            )
    async with platform.core() as core:
        await core.groups.set_role(
            alice.principal, group_id, bob.principal.user_id, GroupRole.ADMINISTRATOR
        )
    async with platform.core() as core:
        await core.groups.remove_member(alice.principal, group_id, alice.principal.user_id)
        assert [m.username for m in await core.groups.members(bob.principal, group_id)] == ["bob"]


async def test_administrators_change_shared_devices_members_only_read_them(
    platform: Platform, alice: Account, bob: Account, carol: Account, dave: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="LAB-1", name="kiln"))
    group_id = await _lab(platform, alice)
    await _add(platform, alice, group_id, bob, GroupRole.ADMINISTRATOR)
    await _add(platform, alice, group_id, carol, GroupRole.MEMBER)
    async with platform.core() as core:
        await core.groups.share_device(alice.principal, group_id, "LAB-1")
    admin, member_now, outsider_now = [await _fresh(platform, a) for a in (bob, carol, dave)]
    async with platform.core() as core:
        changed = await core.devices.update(admin, "LAB-1", DeviceUpdate(name="oven"))
    assert changed.name == "oven"
    async with platform.core() as core:
        assert (await core.devices.get(member_now, "LAB-1")).name == "oven"
        with pytest.raises(Forbidden):
            await core.devices.update(member_now, "LAB-1", DeviceUpdate(name="mine"))
        with pytest.raises(NotFound):
            await core.devices.get(outsider_now, "LAB-1")
        with pytest.raises(NotFound):
            await core.devices.update(outsider_now, "LAB-1", DeviceUpdate(name="mine"))


async def test_a_group_administrator_may_not_delete_a_shared_device(
    platform: Platform, alice: Account, bob: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="LAB-1"))
        group = await core.groups.create(alice.principal, GroupCreate(name="lab"))
        await core.groups.add_member(
            alice.principal, group.id, bob.principal.user_id, GroupRole.ADMINISTRATOR
        )
        await core.groups.share_device(alice.principal, group.id, "LAB-1")
    admin = await _fresh(platform, bob)
    async with platform.core() as core:
        with pytest.raises(Forbidden, match="not delete it"):
            await core.delete_device(admin, "LAB-1")
    async with platform.core() as core:
        assert (await core.devices.get(alice.principal, "LAB-1")).key == "LAB-1"
        # What the administrator may do instead: take the device out of the group.
        await core.groups.unshare_device(admin, group.id, "LAB-1")
    async with platform.core() as core:
        assert await core.groups.devices_of(alice.principal, group.id) == []
        await core.delete_device(alice.principal, "LAB-1")


async def test_a_group_administrator_works_a_shared_device_but_cannot_hand_it_on(
    platform: Platform, alice: Account, bob: Account, carol: Account
) -> None:
    """Who else sees the device is its owner's call: an administrator of a group it is shared
    with may not make it public, loosen its data policy, re-parent it, take its credential or
    share it into another group (say one of their own, with anyone as its administrator)."""
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="LAB-1"))
        await core.devices.create(bob.principal, DeviceCreate(key="BOB-GW"))
    lab = await _lab(platform, alice)
    await _add(platform, alice, lab, bob, GroupRole.ADMINISTRATOR)
    async with platform.core() as core:
        await core.groups.share_device(alice.principal, lab, "LAB-1")
    mine = await _lab(platform, bob)
    await _add(platform, bob, mine, carol, GroupRole.ADMINISTRATOR)
    admin = await _fresh(platform, bob)
    refused = [
        DeviceUpdate(public=True),
        DeviceUpdate(precise_location=False),
        DeviceUpdate(forwarding_enabled=True),
        DeviceUpdate(parent="BOB-GW"),
        DeviceUpdate(name="oven", public=True),  # one owner's field refuses the whole update
    ]
    for update in refused:
        async with platform.core() as core:
            with pytest.raises(Forbidden, match="not control it"):
                await core.devices.update(admin, "LAB-1", update)
    async with platform.core() as core:
        with pytest.raises(Forbidden):
            await core.devices.issue_token(admin, "LAB-1")
        with pytest.raises(Forbidden):
            await core.groups.share_device(admin, mine, "LAB-1")
        with pytest.raises(NotFound):
            await core.devices.get(None, "LAB-1")  # still private
        await core.devices.update(admin, "LAB-1", DeviceUpdate(name="oven", city="Vic"))
    carol_now = await _fresh(platform, carol)
    async with platform.core() as core:
        with pytest.raises(NotFound):  # never shared on: carol sees nothing of it
            await core.devices.get(carol_now, "LAB-1")
        device = await core.devices.get(alice.principal, "LAB-1")
    assert (device.name, device.public, device.parent) == ("oven", False, None)
    # The owner decides all of it.
    async with platform.core() as core:
        await core.devices.update(alice.principal, "LAB-1", DeviceUpdate(public=True))
        await core.devices.issue_token(alice.principal, "LAB-1")


async def test_an_administrator_unshares_from_their_own_group_only(
    platform: Platform, alice: Account, bob: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="LAB-1"))
    lab = await _lab(platform, alice)
    other = await _lab(platform, alice)
    await _add(platform, alice, lab, bob, GroupRole.ADMINISTRATOR)
    await _add(platform, alice, other, bob, GroupRole.MEMBER)
    async with platform.core() as core:
        await core.groups.share_device(alice.principal, lab, "LAB-1")
        await core.groups.share_device(alice.principal, other, "LAB-1")
    bob_now = await _fresh(platform, bob)
    async with platform.core() as core:
        with pytest.raises(Forbidden):  # a member of `other`, not its administrator
            await core.groups.unshare_device(bob_now, other, "LAB-1")
        await core.groups.unshare_device(bob_now, lab, "LAB-1")
    async with platform.core() as core:
        assert [d.key for d in await core.groups.devices_of(alice.principal, other)] == ["LAB-1"]
        assert await core.groups.devices_of(alice.principal, lab) == []


async def test_another_tenants_group_is_missing(
    platform: Platform, alice: Account, bob: Account
) -> None:
    group_id = await _lab(platform, alice)
    async with platform.core() as core:
        await core.devices.create(bob.principal, DeviceCreate(key="BOB-1"))
    async with platform.core() as core:
        with pytest.raises(NotFound) as theirs:
            await core.groups.get(bob.principal, group_id)
        with pytest.raises(NotFound) as absent:
            await core.groups.get(bob.principal, group_id + 1000)
        assert str(theirs.value).replace(str(group_id), "N") == str(absent.value).replace(
            str(group_id + 1000), "N"
        )
        with pytest.raises(NotFound):
            await core.groups.get(None, group_id)
        with pytest.raises(NotFound):
            await core.groups.members(bob.principal, group_id)
        with pytest.raises(NotFound):
            await core.groups.devices_of(bob.principal, group_id)
        with pytest.raises(NotFound):
            await core.groups.add_member(bob.principal, group_id, bob.principal.user_id)
        # Sharing one's own device with a group one does not belong to.
        with pytest.raises(NotFound):
            await core.groups.share_device(bob.principal, group_id, "BOB-1")
        assert await core.groups.list_mine(bob.principal) == []


async def test_sharing_needs_changing_rights_and_membership(
    platform: Platform, alice: Account, bob: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="ALICE-1"))
        await core.devices.create(alice.principal, DeviceCreate(key="ALICE-2"))
        await core.devices.create(bob.principal, DeviceCreate(key="BOB-1"))
    group_id = await _lab(platform, alice)
    await _add(platform, alice, group_id, bob, GroupRole.MEMBER)
    async with platform.core() as core:
        await core.groups.share_device(alice.principal, group_id, "ALICE-1")
        await core.groups.share_device(alice.principal, group_id, "ALICE-1")  # again: no-op
    member = await _fresh(platform, bob)
    async with platform.core() as core:
        # A plain member shares a device of their own, not one they only read or cannot see.
        await core.groups.share_device(member, group_id, "BOB-1")
        with pytest.raises(Forbidden):
            await core.groups.share_device(member, group_id, "ALICE-1")
        with pytest.raises(NotFound):
            await core.groups.share_device(member, group_id, "ALICE-2")
        with pytest.raises(Forbidden):
            await core.groups.unshare_device(member, group_id, "ALICE-1")
    async with platform.core() as core:
        listed = [d.key for d in await core.groups.devices_of(member, group_id)]
        assert listed == ["ALICE-1", "BOB-1"]
        await core.groups.unshare_device(alice.principal, group_id, "ALICE-1")
    async with platform.core() as core:
        with pytest.raises(NotFound):
            await core.groups.unshare_device(alice.principal, group_id, "ALICE-1")
        assert [d.key for d in await core.groups.devices_of(member, group_id)] == ["BOB-1"]
        # The owner reads what a member shared with her group.
        assert (await core.devices.get(await _fresh(platform, alice), "BOB-1")).key == "BOB-1"


async def test_removing_a_member_revokes_access(
    platform: Platform, alice: Account, bob: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="LAB-1"))
    group_id = await _lab(platform, alice)
    await _add(platform, alice, group_id, bob, GroupRole.ADMINISTRATOR)
    async with platform.core() as core:
        await core.groups.share_device(alice.principal, group_id, "LAB-1")
    # The token is remembered with its memberships (THINGPORT_AUTH_CACHE_SECONDS) ...
    assert platform.token_cache.ttl > 0
    async with platform.core() as core:
        assert (await core.devices.get(await _fresh(platform, bob), "LAB-1")).key == "LAB-1"
    async with platform.core() as core:
        await core.groups.remove_member(alice.principal, group_id, bob.principal.user_id)
    # ... and forgotten when they change: the next request sees the new membership.
    removed = await _fresh(platform, bob)
    assert removed.group_ids == frozenset()
    async with platform.core() as core:
        with pytest.raises(NotFound):
            await core.devices.get(removed, "LAB-1")
        with pytest.raises(NotFound):
            await core.groups.devices_of(removed, group_id)


async def test_a_public_device_is_readable_anonymously(platform: Platform, alice: Account) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="PUB", public=True))
        await core.devices.create(alice.principal, DeviceCreate(key="PRIVATE"))
    async with platform.core() as core:
        assert (await core.devices.get(None, "PUB")).public is True
        with pytest.raises(NotFound):
            await core.devices.get(None, "PRIVATE")
        assert [d.key for d in (await core.devices.search(None, ListQuery())).items] == ["PUB"]


async def test_the_smart_mocha_list_leaves_out_other_peoples_public_devices(
    platform: Platform, alice: Account, bob: Account
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="A-PUBLIC", public=True))
        await core.devices.create(alice.principal, DeviceCreate(key="A-SHARED"))
        await core.devices.create(alice.principal, DeviceCreate(key="A-PRIVATE"))
        await core.devices.create(bob.principal, DeviceCreate(key="B-OWN"))
        group = await core.groups.create(alice.principal, GroupCreate(name="lab"))
        await core.groups.add_member(alice.principal, group.id, bob.principal.user_id)
        await core.groups.share_device(alice.principal, group.id, "A-SHARED")
    member = await _fresh(platform, bob)
    async with platform.core() as core:
        listed = [d.key for d in await core.devices.list_visible(member)]
        searched = [d.key for d in (await core.devices.search(member, ListQuery())).items]
    assert listed == ["A-SHARED", "B-OWN"]
    assert searched == ["A-PUBLIC", "A-SHARED", "B-OWN"]


async def test_mqtt_principals_keep_their_memberships(
    platform: Platform, alice: Account, bob: Account
) -> None:
    group_id = await _lab(platform, alice)
    other_id = await _lab(platform, alice)
    await _add(platform, alice, group_id, bob, GroupRole.ADMINISTRATOR)
    await _add(platform, alice, other_id, bob, GroupRole.MEMBER)
    async with platform.core() as core:
        issued = await core.accounts.issue_mqtt_credentials(bob.principal.user_id)
    async with platform.core() as core:
        by_name = await core.accounts.mqtt_principal("bob")
        by_credential = await core.accounts.mqtt_principal(issued.username)
        connected = await core.accounts.authenticate_mqtt(issued.username, issued.password)
        operator = await core.accounts.principal_of("bob")  # the CLI acting as bob
    for principal in (by_name, by_credential, connected, operator):
        assert principal is not None
        assert principal.user_id == bob.principal.user_id
        assert principal.group_ids == {group_id, other_id}
        assert principal.admin_group_ids == {group_id}


async def test_a_shared_imprecise_device_shows_its_members_the_rounded_spot(
    platform: Platform, alice: Account, bob: Account
) -> None:
    """The data policy holds for every dialect because the core renders devices for their
    viewer: only the owner (or an admin) sees the exact location and the private settings,
    not even an administrator of a group the device is shared with."""
    async with platform.core() as core:
        await core.devices.create(
            alice.principal,
            DeviceCreate(
                key="LAB-1", latitude=41.387012, longitude=2.170047, precise_location=False
            ),
        )
    lab = await _lab(platform, alice)
    await _add(platform, alice, lab, bob, GroupRole.ADMINISTRATOR)
    async with platform.core() as core:
        await core.groups.share_device(alice.principal, lab, "LAB-1")
    admin = await _fresh(platform, bob)
    async with platform.core() as core:
        own = await core.devices.get(alice.principal, "LAB-1")
        seen = await core.devices.get(admin, "LAB-1")
        [listed] = await core.devices.list_visible(admin)
    assert (own.latitude, own.longitude, own.authorized) == (41.387012, 2.170047, True)
    assert (seen.latitude, seen.longitude, seen.authorized) == (41.39, 2.17, False)
    assert (listed.latitude, listed.longitude, listed.authorized) == (41.39, 2.17, False)
