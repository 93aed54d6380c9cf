"""Rules for the details people give about themselves, reported field by field as `Problem`s
(kit/errors.py), which each dialect words its own way."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from thingport.core.accounts.schemas import ProfileInput
from thingport.kit.errors import Problem

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

# The rules an `invalid` problem names; dialects key their wording on these.
RULE_USERNAME = "username"
RULE_EMAIL = "email"
RULE_COUNTRY_CODE = "country_code"
RULE_WEB_URL = "web_url"

Errors = dict[str, list[Problem]]


def _add(errors: Errors, name: str, problem: Problem) -> None:
    errors.setdefault(name, []).append(problem)


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def password_errors(password: str | None) -> list[Problem]:
    if not password:
        return [Problem.blank()]
    if len(password) < MIN_PASSWORD:
        return [Problem.too_short(MIN_PASSWORD)]
    if len(password) > MAX_LENGTH["password"]:
        return [Problem.too_long(MAX_LENGTH["password"])]
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
                _add(errors, name, Problem.blank())
            else:
                values[name] = None
            continue
        limit = MAX_LENGTH.get(name)
        if limit is not None and len(value) > limit:
            _add(errors, name, Problem.too_long(limit))
            continue
        if name == "username" and not USERNAME.fullmatch(value):
            _add(
                errors,
                name,
                Problem.invalid(RULE_USERNAME, "letters, digits, '.', '_' and '-' only"),
            )
        elif name == "email":
            try:
                value = validate_email(value, check_deliverability=False).normalized
            except EmailNotValidError:
                _add(errors, name, Problem.invalid(RULE_EMAIL, "an e-mail address"))
        elif name == "password":
            for problem in password_errors(value):
                _add(errors, name, problem)
        elif name == "country_code":
            # Two letters, not only the assigned ISO 3166-1 codes: user-assigned ones are in
            # real use (XK for Kosovo, in the seed's own example).
            value = value.upper()
            if not COUNTRY_CODE.fullmatch(value):
                _add(errors, name, Problem.invalid(RULE_COUNTRY_CODE, "two letters"))
        elif name in ("url", "avatar_url") and not _is_web_url(value):
            _add(errors, name, Problem.invalid(RULE_WEB_URL, "an http or https URL"))
        values[name] = value
    return values, errors
