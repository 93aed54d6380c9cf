"""The SmartCitizen dialect words the core's neutral errors exactly as the live Rails service
does; every problem code and entity has its text here."""

from __future__ import annotations

import pytest

from thingport.dialects.smartcitizen.errors import (
    _body_for,
    field_errors,
    not_found_text,
    problem_text,
)
from thingport.kit.errors import InvalidFields, NotFound, Problem


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (Problem.blank(), "can't be blank"),
        (Problem.too_short(8), "is too short (minimum is 8 characters)"),
        (Problem.too_short(3), "is too short (minimum is 3 characters)"),
        (Problem.too_long(30), "is too long (maximum is 30 characters)"),
        (Problem.taken(), "has already been taken"),
        (Problem.taken(concurrent=True), "or email has just been taken by another account"),
        (Problem.invalid("email", "an e-mail address"), "is invalid"),
        (Problem.invalid(), "is invalid"),
        (Problem.invalid("some_future_rule", "a hint"), "is invalid"),
        (
            Problem.invalid("username", "letters"),
            "is invalid (letters, digits, '.', '_' and '-' only)",
        ),
        (Problem.invalid("country_code", "two letters"), "is not a two-letter country code"),
        (Problem.invalid("web_url", "a URL"), "is invalid (an http or https URL)"),
    ],
)
def test_each_problem_in_rails_words(problem: Problem, text: str) -> None:
    assert problem_text(problem) == text


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (NotFound(entity="user", key=999), "Couldn't find User with 'id'=999"),
        (NotFound(entity="user", key="999"), "Couldn't find User with 'id'=999"),
        (NotFound(entity="device", key=5), "Couldn't find Device with 'id'=5"),
        (NotFound(entity="sensor", key=12), "Couldn't find Sensor with 'id'=12"),
        (NotFound(entity="measurement", key=3), "Couldn't find Measurement with 'id'=3"),
        (NotFound(entity="device_type", key=26), "Couldn't find Kit with 'id'=26"),
        (
            NotFound(entity="user", by="name", key="notauser"),
            'can\'t find record with friendly id: "notauser"',
        ),
        (NotFound(entity="user", by="other", key="a-reset-token"), "Couldn't find User"),
        (NotFound("command 'x' not found"), "command 'x' not found"),
    ],
)
def test_not_found_in_rails_words(error: NotFound, text: str) -> None:
    assert not_found_text(error) == text


def test_field_errors_keep_fields_and_order() -> None:
    assert field_errors(
        {"username": [Problem.taken()], "password": [Problem.blank(), Problem.too_short(8)]}
    ) == {
        "username": ["has already been taken"],
        "password": ["can't be blank", "is too short (minimum is 8 characters)"],
    }


def test_invalid_fields_the_routes_leave_alone_are_a_rails_422() -> None:
    status, body = _body_for(InvalidFields({"email": [Problem.invalid("email")]}))
    assert status == 422
    assert body == {
        "id": "unprocessable_entity",
        "message": "Unprocessable Entity",
        "errors": {"email": ["is invalid"]},
        "url": "",
    }


def test_a_missing_record_is_record_not_found() -> None:
    status, body = _body_for(NotFound(entity="device", key=7, field="id"))
    assert (status, body["id"], body["message"]) == (
        404,
        "record_not_found",
        "Couldn't find Device with 'id'=7",
    )
