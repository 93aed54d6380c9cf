"""Who may read or change what. The core applies these rules once, for every dialect."""

from __future__ import annotations

from collections.abc import Iterable

from thingport.core.accounts.schemas import Principal


def can_read(
    principal: Principal | None, *, owner_id: int, group_ids: Iterable[int], public: bool
) -> bool:
    if public:
        return True
    if principal is None:
        return False
    if principal.is_admin or principal.user_id == owner_id:
        return True
    return not principal.group_ids.isdisjoint(group_ids)


def can_change(principal: Principal | None, *, owner_id: int) -> bool:
    return principal is not None and (principal.is_admin or principal.user_id == owner_id)
