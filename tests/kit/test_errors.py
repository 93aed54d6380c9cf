"""The core's neutral errors: what they carry, and the English they fall back to."""

from __future__ import annotations

import pytest

from thingport.kit.errors import InvalidFields, InvalidInput, NotFound, Problem


def test_not_found_by_id_says_what_and_which() -> None:
    error = NotFound(entity="device", key=42, field="id")
    assert (error.entity, error.by, error.key, error.field) == ("device", "id", 42, "id")
    assert error.message == "no device with id 42"
    assert error.status == 404


def test_not_found_by_name() -> None:
    error = NotFound(entity="user", by="name", key="ann")
    assert error.message == "no user named 'ann'"
    assert error.key == "ann"


def test_not_found_by_something_else_never_keeps_the_key() -> None:
    """A login or a reset token is no name of the record and may be a secret."""
    error = NotFound(entity="user", by="other", key="secret-token")
    assert error.key is None
    assert "secret-token" not in error.message
    assert error.message == "no such user"


def test_not_found_entity_names_read_as_words() -> None:
    assert NotFound(entity="device_type", key=7).message == "no device type with id 7"


def test_not_found_with_a_message_of_its_own_keeps_it() -> None:
    error = NotFound("device 'x' not found", field="device_id")
    assert (error.message, error.entity) == ("device 'x' not found", None)


@pytest.mark.parametrize(
    ("problem", "code", "message"),
    [
        (Problem.blank(), "blank", "must not be blank"),
        (Problem.too_short(8), "too_short", "must be at least 8 characters long"),
        (Problem.too_long(30), "too_long", "must be at most 30 characters long"),
        (Problem.invalid(), "invalid", "is invalid"),
        (Problem.invalid("web_url", "an http URL"), "invalid", "is invalid (an http URL)"),
        (Problem.taken(), "taken", "is taken"),
        (
            Problem.taken(concurrent=True),
            "taken",
            "or another unique field was just taken by another account",
        ),
    ],
)
def test_problems_have_a_code_and_neutral_english(
    problem: Problem, code: str, message: str
) -> None:
    assert problem.code == code
    assert problem.message == message


def test_problem_limits_and_rules_are_data() -> None:
    assert Problem.too_short(8).minimum == 8
    assert Problem.too_long(30).maximum == 30
    assert Problem.invalid("email").rule == "email"
    assert Problem.taken() != Problem.taken(concurrent=True)


def test_invalid_fields_keeps_every_problem_of_every_field() -> None:
    error = InvalidFields(
        {"password": [Problem.too_short(8)], "email": [Problem.invalid("email"), Problem.taken()]}
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "password"
    assert error.problems["email"] == [Problem.invalid("email"), Problem.taken()]
    assert error.fields == {
        "password": ["must be at least 8 characters long"],
        "email": ["is invalid", "is taken"],
    }
    assert error.message == (
        "password must be at least 8 characters long; email is invalid and is taken"
    )


def test_invalid_fields_without_problems_still_has_a_message() -> None:
    error = InvalidFields({})
    assert (error.message, error.field) == ("invalid input", None)
