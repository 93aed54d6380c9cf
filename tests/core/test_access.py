"""The access policy: its rules, and its SQL form agreeing with its Python form."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import make_account
from thingport.core.access import (
    CHANGEABLE,
    DELETABLE,
    OWN_OR_SHARED,
    READABLE,
    Facts,
    Rule,
    can_change,
    can_delete,
    can_read,
    readable,
)
from thingport.core.accounts.schemas import SYSTEM, Principal, PrincipalKind, Role, UserCreate
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.groups.schemas import GroupCreate, GroupRole
from thingport.kit.errors import Forbidden, NotFound
from thingport.kit.listing import ListQuery
from thingport.platform import Platform

OWNER = Principal(user_id=1, username="owner")
MEMBER = Principal(user_id=2, username="member", group_ids=frozenset({7}))
GROUP_ADMIN = Principal(user_id=5, username="lead", admin_group_ids=frozenset({7}))
STRANGER = Principal(user_id=3, username="stranger", group_ids=frozenset({8}))
ADMIN = Principal(user_id=4, username="root", role=Role.ADMIN)


def test_the_rules() -> None:
    def private(who: Principal | None) -> bool:
        return can_read(who, owner_id=1, group_ids=[7], public=False)

    assert [private(p) for p in (OWNER, MEMBER, GROUP_ADMIN, STRANGER, ADMIN, None)] == [
        True,
        True,
        True,
        False,
        True,
        False,
    ]
    assert can_read(None, owner_id=1, public=True)
    assert can_read(STRANGER, owner_id=1, public=True)

    def change(who: Principal | None) -> bool:
        return can_change(who, owner_id=1, group_ids=[7])

    assert [change(p) for p in (OWNER, MEMBER, GROUP_ADMIN, STRANGER, ADMIN, None)] == [
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    # Without the object's groups the check is stricter, never looser.
    assert not can_change(GROUP_ADMIN, owner_id=1)
    assert [can_delete(p, owner_id=1) for p in (OWNER, GROUP_ADMIN, ADMIN, None)] == [
        True,
        False,
        True,
        False,
    ]


def test_an_administrator_of_a_group_is_a_member_of_it() -> None:
    assert GROUP_ADMIN.group_ids == {7}
    assert READABLE.allows(GROUP_ADMIN, Facts(owner_id=1, group_ids=frozenset({7})))


def test_the_own_or_shared_scope_is_readable_without_public() -> None:
    public = Facts(owner_id=1, public=True)
    assert readable() is READABLE
    assert readable(include_public=False) is OWN_OR_SHARED
    assert READABLE.allows(STRANGER, public)
    assert not OWN_OR_SHARED.allows(STRANGER, public)
    assert OWN_OR_SHARED.allows(OWNER, public)
    assert OWN_OR_SHARED.allows(ADMIN, public)


def test_principals_refuse_unknown_roles_and_system_is_an_admin() -> None:
    with pytest.raises(ValueError, match="device"):
        Principal(user_id=1, username="x", role="device")  # type: ignore[arg-type]
    assert Principal(user_id=1, username="x", role="admin").is_admin  # type: ignore[arg-type]
    assert SYSTEM.is_admin
    assert SYSTEM.kind is PrincipalKind.SYSTEM
    assert Role("admin") is Role.ADMIN


def test_groups_are_looked_up_only_when_they_could_grant() -> None:
    assert not READABLE.needs_groups(OWNER)
    assert not READABLE.needs_groups(None)
    assert READABLE.needs_groups(MEMBER)
    assert not CHANGEABLE.needs_groups(MEMBER)
    assert CHANGEABLE.needs_groups(GROUP_ADMIN)
    assert not DELETABLE.needs_groups(GROUP_ADMIN)


async def test_sql_and_python_forms_agree(platform: Platform) -> None:
    """For every principal and device of a matrix: the devices the SQL form lists are exactly
    those the Python check allows, for reading, the own-or-shared listing and changing."""
    alice, bob, carol, dave = [
        await make_account(platform, name) for name in ("alice", "bob", "carol", "dave")
    ]
    async with platform.core() as core:
        admin_user = await core.accounts.create_user(
            UserCreate(username="root", email="root@example.com", role="admin")
        )
        root_key = await core.accounts.issue_api_key(admin_user.id, "test")
        first = await core.groups.create(alice.principal, GroupCreate(name="first"))
        second = await core.groups.create(bob.principal, GroupCreate(name="second"))
        for group, account, role in (
            (first, bob, GroupRole.MEMBER),
            (first, carol, GroupRole.MEMBER),
            (second, carol, GroupRole.MEMBER),
            (second, alice, GroupRole.MEMBER),
        ):
            await core.groups.add_member(
                alice.principal if group is first else bob.principal,
                group.id,
                account.principal.user_id,
                role,
            )
    groups = {"first": first.id, "second": second.id}
    facts: dict[str, Facts] = {}
    async with platform.core() as core:
        for owner, public, shared in itertools.product(
            (alice, carol), (False, True), ((), ("first",), ("second",), ("first", "second"))
        ):
            key = f"{owner.principal.username}-{int(public)}-{'_'.join(shared) or 'none'}"
            await core.devices.create(owner.principal, DeviceCreate(key=key, public=public))
            for name in shared:
                await core.groups.share_device(owner.principal, groups[name], key)
            facts[key] = Facts(
                owner.principal.user_id, public, frozenset(groups[n] for n in shared)
            )
        principals: list[Principal | None] = [
            await core.accounts.authenticate_token(a.token) for a in (alice, bob, carol, dave)
        ]
        principals += [
            await core.accounts.authenticate_token(root_key.token),
            None,
            SYSTEM,
            Principal(user_id=-1, username="device-token", kind=PrincipalKind.DEVICE),
        ]
    assert principals[1] is not None
    assert principals[1].admin_group_ids == {second.id}

    def allowed(rule: Rule, principal: Principal | None) -> list[str]:
        return sorted(key for key, fact in facts.items() if rule.allows(principal, fact))

    seen: set[tuple[int, ...]] = set()
    for principal in principals:
        async with platform.core() as core:
            page = await core.devices.search(principal, ListQuery())
            searched = sorted(d.key for d in page.items)
            assert searched == allowed(READABLE, principal), principal
            looked_up = []
            for key in facts:
                try:
                    await core.devices.get(principal, key)
                except NotFound:
                    continue
                looked_up.append(key)
            assert sorted(looked_up) == searched, principal
            if principal is None:
                continue
            listed = sorted(d.key for d in await core.devices.list_visible(principal))
            assert listed == allowed(OWN_OR_SHARED, principal), principal
            changeable = sorted(await core.devices.changeable_keys(principal))
            assert changeable == allowed(CHANGEABLE, principal), principal
            resolved = []
            for key in facts:
                try:
                    await core.devices.resolve(principal, key, change=True)
                except (NotFound, Forbidden):
                    continue
                resolved.append(key)
            assert sorted(resolved) == changeable, principal
        seen.add((len(searched), len(listed), len(changeable)))
    # The matrix tells principals apart: not every one gets the same answer.
    assert len(seen) >= 5
