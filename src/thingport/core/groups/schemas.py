"""What the groups service takes and returns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class GroupRole(StrEnum):
    """A member's role in one group (stored as its value in `group_members.role`)."""

    MEMBER = "member"
    # Manages the group's members and may change the devices shared with the group.
    ADMINISTRATOR = "administrator"


class GroupCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class GroupOut(BaseModel):
    id: int
    name: str
    owner_id: int
    created_at: datetime
    # The caller's role in the group; None for a platform admin who is not a member.
    role: GroupRole | None


class MemberOut(BaseModel):
    group_id: int
    user_id: int
    username: str
    role: GroupRole
