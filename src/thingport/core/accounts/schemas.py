"""What the accounts service takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, EmailStr, Field


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, with the groups they belong to."""

    user_id: int
    username: str
    role: str = "user"
    group_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# The platform itself, acting on input whose sender another component already authorised
# (messages read from an external broker whose ACL confines every client to its own topics).
SYSTEM = Principal(user_id=0, username="system", role="admin")


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    email: EmailStr
    password: str | None = Field(default=None, min_length=8, max_length=256)
    role: str = Field(default="user", pattern="^(user|admin)$")


class UserOut(BaseModel):
    id: int
    username: str
    email: str
    role: str
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
    role: str
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
