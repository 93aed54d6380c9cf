"""Who may read, change or delete what: the one access policy of the core, for every domain.

A rule is a set of grants, each a reason to allow. Every grant is written here twice, side by
side: as a Python check over the facts of an object already loaded (`Rule.allows`), and as a SQL
condition over its table (`Rule.where`), so that a list and a lookup can never disagree. Tests
check that they agree (tests/core/test_access.py).

The rules:

* `READABLE`: a platform admin reads everything; anyone, even anonymous, reads a public object;
  a user reads what they own and what is shared with a group they belong to.
* `OWN_OR_SHARED`: `READABLE` without other people's public objects. A listing of "my devices"
  (Smart Mocha's GET /devices) uses it; a lookup by id still uses `READABLE`.
* `CHANGEABLE`: a platform admin, the owner, and an administrator of a group the object is
  shared with. A plain member reads a shared object but does not change it.
* `CONTROLLABLE`: a platform admin and the owner only: who else sees the object and where it
  hangs. For a device: making it public, its data policy, its parent gateway, its device
  token (its credential), and sharing it with a group. A group administrator works the device
  (names, describes, locates it, sends it data and commands) but cannot hand it on: were
  these theirs, one group's administrator could publish the owner's data to everyone, take over
  the device's credential, or share it into a group of their own and make anyone its
  administrator.
* `DELETABLE`: a platform admin and the owner only. Deleting erases the owner's recorded data
  for good and takes the device from every group it is shared with.

Sharing a device with a group needs `CONTROLLABLE` and membership of the group; unsharing it
needs `CONTROLLABLE`, or administering that group (an administrator may take a device out of
their own group, never out of another). See core/groups/service.py.

A user account is its own owner (`can_change(viewer, owner_id=user.id)`): the user themself and
platform admins change it; no group grants anything on accounts.

Groups themselves: their members see them, their administrators (and platform admins) manage
members and roles (`can_see_group`, `can_administer_group`). Those take the caller's role as
just read with the group, not the principal's memberships, which are as old as its
authentication: who may change a group's membership is decided on the current one.

A principal's memberships travel with it (`Principal.group_ids`, `admin_group_ids`), so no
check queries memberships; only the groups an object is shared with may have to be loaded, and
`Rule.needs_groups` says when they could change the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from sqlalchemy import ColumnElement, SQLColumnExpression, false, or_, select, true

from thingport.core.accounts.schemas import Principal
from thingport.core.groups.schemas import GroupRole


class Grant(Enum):
    ADMIN = "the principal is a platform admin"
    PUBLIC = "the object is public"
    OWNER = "the principal owns the object"
    MEMBER = "the object is shared with a group the principal belongs to"
    GROUP_ADMIN = "the object is shared with a group the principal administers"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the Python check needs to know about one loaded object. `group_ids` are the groups
    it is shared with; left empty, the check can only be stricter than with them."""

    owner_id: int
    public: bool = False
    group_ids: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Shares:
    """The table that shares objects of one kind with groups: its two columns."""

    object_id: SQLColumnExpression[int]
    group_id: SQLColumnExpression[int]


@dataclass(frozen=True, slots=True)
class Target:
    """The columns the SQL form reads for one kind of object. A kind without a public flag or
    without group shares leaves those out: those grants never hold for it."""

    owner_id: SQLColumnExpression[int]
    id: SQLColumnExpression[int] | None = None
    public: SQLColumnExpression[bool] | None = None
    shares: Shares | None = None


def _groups(grant: Grant, principal: Principal | None) -> frozenset[int]:
    if principal is None:
        return frozenset()
    if grant is Grant.MEMBER:
        return principal.group_ids
    if grant is Grant.GROUP_ADMIN:
        return principal.admin_group_ids
    return frozenset()


def _holds(grant: Grant, principal: Principal | None, facts: Facts) -> bool:
    match grant:
        case Grant.ADMIN:
            return principal is not None and principal.is_admin
        case Grant.PUBLIC:
            return facts.public
        case Grant.OWNER:
            return principal is not None and principal.user_id == facts.owner_id
        case Grant.MEMBER | Grant.GROUP_ADMIN:
            return not _groups(grant, principal).isdisjoint(facts.group_ids)


def _where(grant: Grant, principal: Principal | None, target: Target) -> ColumnElement[bool]:
    match grant:
        case Grant.ADMIN:
            return true() if principal is not None and principal.is_admin else false()
        case Grant.PUBLIC:
            return target.public.is_(True) if target.public is not None else false()
        case Grant.OWNER:
            return target.owner_id == principal.user_id if principal is not None else false()
        case Grant.MEMBER | Grant.GROUP_ADMIN:
            groups = _groups(grant, principal)
            if not groups or target.shares is None or target.id is None:
                return false()
            shared = select(target.shares.object_id).where(
                target.shares.group_id.in_(sorted(groups))
            )
            return target.id.in_(shared)


@dataclass(frozen=True, slots=True)
class Rule:
    """A named set of grants: allowed when any of them holds."""

    name: str
    grants: frozenset[Grant]

    def allows(self, principal: Principal | None, facts: Facts) -> bool:
        return any(_holds(grant, principal, facts) for grant in self.grants)

    def where(self, principal: Principal | None, target: Target) -> ColumnElement[bool]:
        """The SQL form of `allows`, over the columns of `target`."""
        if Grant.ADMIN in self.grants and principal is not None and principal.is_admin:
            return true()
        # In Grant order, so that the same principal always gets the same statement text.
        return or_(
            false(), *(_where(grant, principal, target) for grant in Grant if grant in self.grants)
        )

    def needs_groups(self, principal: Principal | None) -> bool:
        """Whether the groups an object is shared with could turn a refusal into an allowance
        for this principal: if not, a caller need not load them."""
        return any(_groups(grant, principal) for grant in self.grants)

    def without(self, *grants: Grant) -> Rule:
        return Rule(self.name, self.grants.difference(grants))


READABLE = Rule("read", frozenset({Grant.ADMIN, Grant.PUBLIC, Grant.OWNER, Grant.MEMBER}))
OWN_OR_SHARED = READABLE.without(Grant.PUBLIC)
CHANGEABLE = Rule("change", frozenset({Grant.ADMIN, Grant.OWNER, Grant.GROUP_ADMIN}))
CONTROLLABLE = Rule("control", frozenset({Grant.ADMIN, Grant.OWNER}))
DELETABLE = Rule("delete", frozenset({Grant.ADMIN, Grant.OWNER}))


def readable(*, include_public: bool = True) -> Rule:
    """`READABLE`, or `OWN_OR_SHARED` for a listing of the principal's own and shared objects."""
    return READABLE if include_public else OWN_OR_SHARED


def can_read(
    principal: Principal | None,
    *,
    owner_id: int,
    group_ids: Iterable[int] = (),
    public: bool = False,
) -> bool:
    return READABLE.allows(principal, Facts(owner_id, public, frozenset(group_ids)))


def can_change(
    principal: Principal | None, *, owner_id: int, group_ids: Iterable[int] = ()
) -> bool:
    return CHANGEABLE.allows(principal, Facts(owner_id, group_ids=frozenset(group_ids)))


def can_delete(principal: Principal | None, *, owner_id: int) -> bool:
    return DELETABLE.allows(principal, Facts(owner_id))


def can_see_group(principal: Principal | None, role: GroupRole | None) -> bool:
    """`role`: the principal's role in the group, None if not a member."""
    return principal is not None and (principal.is_admin or role is not None)


def can_administer_group(principal: Principal | None, role: GroupRole | None) -> bool:
    return principal is not None and (principal.is_admin or role is GroupRole.ADMINISTRATOR)
