"""Rules for the details people give about themselves, reported field by field.

The messages read like the ones Rails-backed clouds send (`is too short (minimum is 8
characters)`), because that is what several dialects show their clients verbatim; they are plain
English for every other caller too.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from thingport.core.accounts.schemas import ProfileInput

MIN_PASSWORD = 8
USERNAME = re.compile(r"[A-Za-z0-9_.\-]+")
COUNTRY_CODE = re.compile(r"[A-Z]{2}")
# Column sizes (models.py); the password limit bounds the work argon2 is asked to do.
MAX_LENGTH = {
    "username": 64,
    "email": 255,
    "password": 256,
    "first_name": 100,
    "last_name": 100,
    "city": 100,
    "url": 255,
    "avatar_url": 255,
}
REQUIRED = ("username", "email", "password")

Errors = dict[str, list[str]]


def _add(errors: Errors, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def password_errors(password: str | None) -> list[str]:
    if not password:
        return ["can't be blank"]
    if len(password) < MIN_PASSWORD:
        return [f"is too short (minimum is {MIN_PASSWORD} characters)"]
    if len(password) > MAX_LENGTH["password"]:
        return [f"is too long (maximum is {MAX_LENGTH['password']} characters)"]
    return []


def normalized(data: ProfileInput, *, creating: bool) -> tuple[dict[str, str | None], Errors]:
    """The fields to store (set ones only, or all required ones on creation), cleaned, and
    what is wrong with them. Uniqueness needs the database and is the service's check."""
    given = set(data.model_fields_set) | (set(REQUIRED) if creating else set())
    values: dict[str, str | None] = {}
    errors: Errors = {}
    for name in sorted(given, key=list(ProfileInput.model_fields).index):
        raw = getattr(data, name)
        value = raw.strip() if isinstance(raw, str) and name != "password" else raw
        if not value:
            if name in REQUIRED:
                _add(errors, name, "can't be blank")
            else:
                values[name] = None
            continue
        limit = MAX_LENGTH.get(name)
        if limit is not None and len(value) > limit:
            _add(errors, name, f"is too long (maximum is {limit} characters)")
            continue
        if name == "username" and not USERNAME.fullmatch(value):
            _add(errors, name, "is invalid (letters, digits, '.', '_' and '-' only)")
        elif name == "email":
            try:
                value = validate_email(value, check_deliverability=False).normalized
            except EmailNotValidError:
                _add(errors, name, "is invalid")
        elif name == "password":
            for message in password_errors(value):
                _add(errors, name, message)
        elif name == "country_code":
            # Two letters, not only the assigned ISO 3166-1 codes: user-assigned ones are in
            # real use (XK for Kosovo, in the seed's own example).
            value = value.upper()
            if not COUNTRY_CODE.fullmatch(value):
                _add(errors, name, "is not a two-letter country code")
        elif name in ("url", "avatar_url") and not _is_web_url(value):
            _add(errors, name, "is invalid (an http or https URL)")
        values[name] = value
    return values, errors
