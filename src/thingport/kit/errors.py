"""Domain errors raised by the core; each dialect renders them in its own error envelope."""

from __future__ import annotations

from typing import Any


class ThingportError(Exception):
    """Base of the errors a dialect translates. `code` is stable and machine-readable."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class InvalidInput(ThingportError):
    status = 400
    code = "invalid_input"


class Unauthenticated(ThingportError):
    status = 401
    code = "unauthorized"


class Forbidden(ThingportError):
    status = 403
    code = "forbidden"


class NotFound(ThingportError):
    """Also what another tenant's object looks like: indistinguishable from a missing one."""

    status = 404
    code = "not_found"


class Conflict(ThingportError):
    status = 409
    code = "conflict"


class InvalidFields(InvalidInput):
    """Input that failed validation, field by field, so a dialect can report every problem at
    once (`{"email": ["is invalid"], "password": ["is too short (minimum is 8 characters)"]}`)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        summary = "; ".join(f"{name} {' and '.join(msgs)}" for name, msgs in fields.items())
        super().__init__(summary or "invalid input", field=next(iter(fields), None))
        self.fields = fields
