"""The groups domain: named sets of users with a role each, and the devices shared with them.

Whisker groups, Cayenne user groups and Instathings projects map here. Who may do what is the
access policy's (core/access.py): members see a group; its administrators and platform admins
manage its members; a device is shared by its owner into a group the owner belongs to, and
unshared by its owner or by an administrator of that group. A group the caller may not see is
indistinguishable from a missing one.

A group keeps at least one administrator: removing or demoting the last one is refused, or
nobody but a platform admin could manage the group again.
"""

from __future__ import annotations

from thingport.core.access import can_administer_group, can_see_group
from thingport.core.accounts.schemas import Principal, PrincipalKind
from thingport.core.accounts.service import AccountsService
from thingport.core.accounts.token_cache import TokenCache
from thingport.core.devices.schemas import DeviceOut
from thingport.core.devices.service import DevicesService
from thingport.core.groups.models import DeviceGroup, Group, GroupMember
from thingport.core.groups.repository import GroupsRepository
from thingport.core.groups.schemas import GroupCreate, GroupOut, GroupRole, MemberOut
from thingport.kit.errors import Conflict, Forbidden, NotFound
from thingport.storage.engine import UnitOfWork


def _out(group: Group, role: GroupRole | None) -> GroupOut:
    return GroupOut(
        id=group.id,
        name=group.name,
        owner_id=group.owner_id,
        created_at=group.created_at,
        role=role,
    )


class GroupsService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        accounts: AccountsService,
        devices: DevicesService,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.uow = uow
        self.repo = GroupsRepository(uow.session)
        self.accounts = accounts
        self.devices = devices
        self.token_cache = token_cache

    # -- groups ------------------------------------------------------------------------------

    async def create(self, principal: Principal, data: GroupCreate) -> GroupOut:
        """A new group; its creator is its first administrator."""
        if principal.kind is not PrincipalKind.USER:
            raise Forbidden("only a user may create a group")
        group = Group(name=data.name, owner_id=principal.user_id)
        await self.repo.add(group)
        await self._join(group.id, principal.user_id, GroupRole.ADMINISTRATOR)
        return _out(group, GroupRole.ADMINISTRATOR)

    async def get(self, principal: Principal | None, group_id: int) -> GroupOut:
        group, role = await self._visible(principal, group_id)
        return _out(group, role)

    async def list_mine(self, principal: Principal) -> list[GroupOut]:
        """The groups the principal belongs to, with its role in each."""
        return [
            _out(group, GroupRole(role))
            for group, role in await self.repo.groups_of(principal.user_id)
        ]

    async def _visible(
        self, principal: Principal | None, group_id: int
    ) -> tuple[Group, GroupRole | None]:
        """The group and the principal's role in it, read now; NotFound unless it may see it."""
        group = await self.repo.by_id(group_id)
        member = (
            await self.repo.membership(group_id, principal.user_id)
            if group is not None and principal is not None
            else None
        )
        role = GroupRole(member.role) if member is not None else None
        if group is None or not can_see_group(principal, role):
            raise NotFound(f"group {group_id} not found", field="group_id")
        return group, role

    async def _administered(self, principal: Principal, group_id: int) -> Group:
        group, role = await self._visible(principal, group_id)
        if not can_administer_group(principal, role):
            raise Forbidden(f"you may see group {group_id} but not manage its members")
        return group

    # -- members -----------------------------------------------------------------------------

    async def members(self, principal: Principal | None, group_id: int) -> list[MemberOut]:
        await self._visible(principal, group_id)
        return [
            MemberOut(
                group_id=member.group_id,
                user_id=member.user_id,
                username=username,
                role=GroupRole(member.role),
            )
            for member, username in await self.repo.members(group_id)
        ]

    async def add_member(
        self,
        principal: Principal,
        group_id: int,
        user_id: int,
        role: GroupRole = GroupRole.MEMBER,
    ) -> MemberOut:
        await self._administered(principal, group_id)
        user = await self.accounts.profile(principal, user_id)
        if await self.repo.membership(group_id, user_id) is not None:
            raise Conflict(f"user {user_id} is already a member of group {group_id}")
        await self._join(group_id, user_id, role)
        return MemberOut(group_id=group_id, user_id=user_id, username=user.username, role=role)

    async def set_role(
        self, principal: Principal, group_id: int, user_id: int, role: GroupRole
    ) -> MemberOut:
        await self._administered(principal, group_id)
        member = await self._member(group_id, user_id)
        if role is not GroupRole.ADMINISTRATOR:
            await self._keep_an_administrator(member)
        user = await self.accounts.profile(principal, user_id)
        member.role = role.value
        await self.uow.session.flush()
        self._forget_principal(user_id)
        return MemberOut(group_id=group_id, user_id=user_id, username=user.username, role=role)

    async def remove_member(self, principal: Principal, group_id: int, user_id: int) -> None:
        """Group administrators and platform admins remove anyone; a member may leave."""
        if user_id == principal.user_id:
            await self._visible(principal, group_id)
        else:
            await self._administered(principal, group_id)
        member = await self._member(group_id, user_id)
        await self._keep_an_administrator(member)
        await self.repo.remove(member)
        self._forget_principal(user_id)

    async def _member(self, group_id: int, user_id: int) -> GroupMember:
        member = await self.repo.membership(group_id, user_id)
        if member is None:
            raise NotFound(f"user {user_id} is not a member of group {group_id}", field="user_id")
        return member

    async def _keep_an_administrator(self, member: GroupMember) -> None:
        """Refuse to take away the group's last administrator."""
        if member.role != GroupRole.ADMINISTRATOR:
            return
        if await self.repo.count_with_role(member.group_id, GroupRole.ADMINISTRATOR.value) <= 1:
            raise Conflict(f"group {member.group_id} needs at least one administrator")

    async def _join(self, group_id: int, user_id: int, role: GroupRole) -> None:
        await self.repo.add(GroupMember(group_id=group_id, user_id=user_id, role=role.value))
        self._forget_principal(user_id)

    def _forget_principal(self, user_id: int) -> None:
        """A remembered token carries the memberships it was checked with: once the change is
        committed, the user's next request to this worker authenticates afresh and sees it.
        Other workers' caches keep the old memberships for up to THINGPORT_AUTH_CACHE_SECONDS
        (the cache is per process; a networked bus could carry the change)."""
        cache = self.token_cache
        if cache is None:
            return

        async def forget() -> None:
            cache.forget_user(user_id)

        self.uow.after_commit(forget)

    # -- devices -----------------------------------------------------------------------------

    async def share_device(self, principal: Principal, group_id: int, device_key: str) -> None:
        """Share a device with a group: its members may read it, its administrators change it.
        Only the device's owner (or a platform admin) shares it, into a group they belong to
        (core/access.py, CONTROLLABLE). Sharing it again changes nothing."""
        await self._visible(principal, group_id)
        device_id = (await self.devices.resolve_controllable(principal, device_key)).id
        if await self.repo.share(group_id, device_id) is None:
            await self.repo.add(DeviceGroup(device_id=device_id, group_id=group_id))

    async def unshare_device(self, principal: Principal, group_id: int, device_key: str) -> None:
        """Take a device out of a group: its owner (or a platform admin) may, and so may an
        administrator of that group, out of that group only."""
        _, role = await self._visible(principal, group_id)
        if can_administer_group(principal, role):
            device_id = (await self.devices.resolve(principal, device_key, change=True)).id
        else:
            device_id = (await self.devices.resolve_controllable(principal, device_key)).id
        share = await self.repo.share(group_id, device_id)
        if share is None:
            raise NotFound(
                f"device {device_key!r} is not shared with group {group_id}", field="device_id"
            )
        await self.repo.remove(share)

    async def devices_of(self, principal: Principal, group_id: int) -> list[DeviceOut]:
        """The devices shared with a group, for those who may see the group."""
        await self._visible(principal, group_id)
        return await self.devices.list_shared_with(principal, group_id)
