"""A Thingport user as SmartCitizen's user JSON (`app/views/v0/users/_user.jbuilder`).

Keys in the live service's order, plus the seed's `first_name`, `last_name`, `avatar` and
`joined_at`. The e-mail address and the three secrets are `"[FILTERED]"` unless the viewer is the
user or an admin; the official client needs strings there, so they are never left out.
"""

from __future__ import annotations

from typing import Any

from thingport.core.accounts.schemas import UserProfile
from thingport.dialects.smartcitizen.render import FILTERED, iso, place_json

# SmartCitizen's roles are citizen, researcher and admin; Thingport's plain user is a citizen.
_ROLES = {"user": "citizen", "admin": "admin"}


def user_json(user: UserProfile, devices: list[dict[str, Any]]) -> dict[str, Any]:
    # Thingport keeps API tokens hashed (nothing to show as `legacy_api_key`) and has no MQTT
    # forwarding, so the owner sees null there, as a SmartCitizen citizen sees for forwarding.
    private: str | None = None if user.authorized else FILTERED
    return {
        "id": user.id,
        "uuid": user.uuid,
        "role": _ROLES.get(user.role, user.role),
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "profile_picture": user.avatar_url or "",
        "avatar": user.avatar_url,
        "url": user.url,
        "location": place_json(user.city, user.country_code),
        "joined_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "email": user.email if user.authorized else FILTERED,
        "legacy_api_key": private,
        "forwarding_token": private,
        "forwarding_username": private,
        "devices": devices,
    }
