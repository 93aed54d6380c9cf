"""What the accounts service takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, EmailStr, Field


class Role(StrEnum):
    """A user's role on the whole platform (stored as its value in `users.role`)."""

    USER = "user"
    ADMIN = "admin"


class PrincipalKind(StrEnum):
    """What kind of caller a principal stands for. An OAuth client acting for a user or a group
    becomes a kind of its own when the OAuth grants arrive: the access policy only ever looks
    at the user id, the role and the group memberships, which such a client would carry too."""

    USER = "user"
    # The platform itself (`SYSTEM`).
    SYSTEM = "system"
    # A device that logged in with its own token: it acts for nobody.
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, with the groups they belong to and those they administer.

    Memberships travel with the principal so that an access check needs no query; they are as
    fresh as the authentication that produced the principal. `admin_group_ids` is always
    within `group_ids` (an administrator of a group is one of its members)."""

    user_id: int
    username: str
    role: Role = Role.USER
    group_ids: frozenset[int] = field(default_factory=frozenset)
    admin_group_ids: frozenset[int] = field(default_factory=frozenset)
    kind: PrincipalKind = PrincipalKind.USER

    def __post_init__(self) -> None:
        # Rows give plain strings; coercing here refuses a role the platform does not know.
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "kind", PrincipalKind(self.kind))
        object.__setattr__(self, "group_ids", self.group_ids | self.admin_group_ids)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


# The platform itself, acting on input whose sender another component already authorised
# (messages read from an external broker whose ACL confines every client to its own topics).
SYSTEM = Principal(user_id=0, username="system", role=Role.ADMIN, kind=PrincipalKind.SYSTEM)


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    email: EmailStr
    password: str | None = Field(default=None, min_length=8, max_length=256)
    role: Role = Role.USER


class UserOut(BaseModel):
    id: int
    username: str
    email: str
    role: Role
    created_at: datetime


class IssuedApiKey(BaseModel):
    """The only moment the plain token exists: returned once, then only its hash is kept."""

    id: int
    name: str
    token: str


class IssuedMqttCredentials(BaseModel):
    """MQTT user name and password; the password is shown once and stored hashed."""

    username: str
    password: str


class ProfileInput(BaseModel):
    """A user's own details as a person types them. Nothing is checked here: the service checks
    every field and reports all problems together. On update only the fields set are applied;
    an empty optional field clears it."""

    username: str | None = None
    email: str | None = None
    password: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    country_code: str | None = None
    url: str | None = None
    avatar_url: str | None = None


class UserProfile(BaseModel):
    """A user as a given viewer may see them. `email` is None unless `authorized`: the viewer
    is that user or an admin."""

    id: int
    uuid: str
    username: str
    role: Role
    first_name: str | None
    last_name: str | None
    city: str | None
    country_code: str | None
    url: str | None
    avatar_url: str | None
    created_at: datetime
    updated_at: datetime
    email: str | None
    authorized: bool
