"""Domain errors raised by the core; each dialect renders them in its own error envelope.

The core says what happened, to which entity and which field, as data (`NotFound.entity`,
`InvalidFields.problems`); the English in `message` is neutral, for logs and for dialects
without wording of their own. A dialect that must answer in its vendor's words (SmartCitizen's
Rails texts) builds them from the data, never by reading or matching `message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


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


# How a lookup named what it did not find: by a record id, by a name that stands for the record
# (a username), or by something that is no name of it (a login, a reset token): dialects word
# the three differently, and the last kind is never echoed back.
LookupBy = Literal["id", "name", "other"]


def _not_found_message(entity: str, by: LookupBy, key: str | int | None) -> str:
    what = entity.replace("_", " ")
    if by == "id":
        return f"no {what} with id {key}"
    if by == "name":
        return f"no {what} named {key!r}"
    return f"no such {what}"


class NotFound(ThingportError):
    """Also what another tenant's object looks like: indistinguishable from a missing one.

    With `entity` ("user", "device", "sensor", "measurement", "device_type") the error says what
    was looked for and how (`by`, `key`); the message is then made from those unless given.
    """

    status = 404
    code = "not_found"

    def __init__(
        self,
        message: str | None = None,
        *,
        entity: str | None = None,
        by: LookupBy = "id",
        key: str | int | None = None,
        field: str | None = None,
        **details: Any,
    ) -> None:
        if message is None:
            message = _not_found_message(entity or "record", by, key)
        super().__init__(message, field=field, **details)
        self.entity = entity
        self.by = by
        # Only a key that names the record is kept: an `other` one may be a secret.
        self.key = key if by != "other" else None


class Conflict(ThingportError):
    status = 409
    code = "conflict"


ProblemCode = Literal["blank", "too_short", "too_long", "invalid", "taken"]


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one field's value.

    `minimum` and `maximum` are the length limits of `too_short` and `too_long`. An `invalid`
    value names the `rule` it breaks ("email", "web_url", ...: stable, for dialects to word) and
    may carry a `hint`, neutral English for what a valid value looks like. A `taken` value that
    was free when checked but claimed by a concurrent request is `concurrent`.
    """

    code: ProblemCode
    minimum: int | None = None
    maximum: int | None = None
    rule: str | None = None
    hint: str | None = None
    concurrent: bool = False

    @classmethod
    def blank(cls) -> Problem:
        return cls("blank")

    @classmethod
    def too_short(cls, minimum: int) -> Problem:
        return cls("too_short", minimum=minimum)

    @classmethod
    def too_long(cls, maximum: int) -> Problem:
        return cls("too_long", maximum=maximum)

    @classmethod
    def invalid(cls, rule: str | None = None, hint: str | None = None) -> Problem:
        return cls("invalid", rule=rule, hint=hint)

    @classmethod
    def taken(cls, *, concurrent: bool = False) -> Problem:
        return cls("taken", concurrent=concurrent)

    @property
    def message(self) -> str:
        """Neutral English, read after the field's name ("password must be at least ...")."""
        if self.code == "blank":
            return "must not be blank"
        if self.code == "too_short":
            return f"must be at least {self.minimum} characters long"
        if self.code == "too_long":
            return f"must be at most {self.maximum} characters long"
        if self.code == "taken":
            if self.concurrent:
                return "or another unique field was just taken by another account"
            return "is taken"
        return f"is invalid ({self.hint})" if self.hint else "is invalid"


class InvalidFields(InvalidInput):
    """Input that failed validation, field by field, so a dialect can report every problem at
    once (`{"email": [invalid], "password": [too_short(8)]}`)."""

    def __init__(self, problems: dict[str, list[Problem]]) -> None:
        summary = "; ".join(
            f"{name} {' and '.join(p.message for p in found)}" for name, found in problems.items()
        )
        super().__init__(summary or "invalid input", field=next(iter(problems), None))
        self.problems = problems

    @property
    def fields(self) -> dict[str, list[str]]:
        """The problems in neutral English, by field."""
        return {name: [p.message for p in found] for name, found in self.problems.items()}
