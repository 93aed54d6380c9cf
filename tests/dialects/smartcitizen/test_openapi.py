"""SmartCitizen's OpenAPI document describes its parameters and answers, and the answers the
service sends are what the document says (the models forbid extra fields, so a field added to
a body and not to schemas.py fails here)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter

from tests.conftest import Account
from thingport.core.telemetry.schemas import Reading
from thingport.dialects.smartcitizen import schemas
from thingport.platform import Platform

BASE = "/smartcitizen/v0"
SCK_11 = 3

# (method, path, parameters it must list, the schema of its success answer)
MAIN_ENDPOINTS: list[tuple[str, str, set[str], str]] = [
    ("get", "/v0/devices", {"q", "page", "per_page", "near", "pretty", "callback"}, "[Device]"),
    ("get", "/v0/devices/{device_id}", {"device_id", "pretty", "callback"}, "Device"),
    ("get", "/v0/devices/world_map", {"pretty", "callback"}, "[WorldMapDevice]"),
    ("post", "/v0/devices", set(), "Device"),
    (
        "get",
        "/v0/devices/{ref}/readings",
        {"ref", "rollup", "sensor_id", "sensor_key", "function", "from", "to", "limit"},
        "Readings",
    ),
    ("post", "/v0/devices/{ref}/readings", {"ref"}, "Queued"),
    ("get", "/v0/users", {"q", "page", "per_page"}, "[User]"),
    ("get", "/v0/users/{ref}", {"ref"}, "User"),
    ("get", "/v0/me", set(), "User"),
    ("get", "/v0/sensors", {"q", "page", "per_page"}, "[Sensor]"),
    ("get", "/v0/sensors/{ref}", {"ref"}, "Sensor"),
    ("get", "/v0/kits", {"q", "page", "per_page"}, "[Kit]"),
    ("get", "/v0/kits/{ref}", {"ref"}, "Kit"),
    ("get", "/v0/measurements", {"q", "page", "per_page"}, "[Measurement]"),
    ("get", "/v0/measurements/{ref}", {"ref"}, "Measurement"),
    ("get", "/v0/search", {"q", "page", "per_page"}, "[SearchResult]"),
]


def _schema_name(schema: dict[str, Any]) -> str:
    if schema.get("type") == "array":
        return f"[{_schema_name(schema['items'])}]"
    return str(schema["$ref"]).rsplit("/", 1)[-1]


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    # Generating it also proves it has no duplicate operation ids: pytest turns FastAPI's
    # warning about them into an error.
    response = await client.get("/smartcitizen/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(("method", "path", "parameters", "answer"), MAIN_ENDPOINTS)
async def test_main_endpoints_list_parameters_answers_and_errors(
    document: dict[str, Any], method: str, path: str, parameters: set[str], answer: str
) -> None:
    operation = document["paths"][path][method]
    assert parameters <= {p["name"] for p in operation.get("parameters", [])}
    success = next(operation["responses"][s] for s in ("200", "201") if s in operation["responses"])
    assert _schema_name(success["content"]["application/json"]["schema"]) == answer
    for status in ("400", "401", "404", "422"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert _schema_name(error) == "ErrorEnvelope", status
    if method == "post":
        body = operation["requestBody"]["content"]
        assert {"application/json"} <= set(body)


async def test_ids_are_text_so_a_word_is_record_not_found(document: dict[str, Any]) -> None:
    (device_id,) = document["paths"]["/v0/devices/{device_id}"]["get"]["parameters"][:1]
    assert device_id["schema"]["type"] == "string"  # an int would be a 422 for "abc"
    ransack = next(
        p for p in document["paths"]["/v0/devices"]["get"]["parameters"] if p["name"] == "q"
    )
    assert ransack["style"] == "deepObject"
    assert "name" in ransack["description"]


def _check(model: type[BaseModel] | Any, body: Any) -> None:
    TypeAdapter(model).validate_python(body, strict=False)


async def test_answers_match_the_documented_models(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    auth = {"Authorization": f"Bearer {alice.token}"}
    created = await client.post(
        f"{BASE}/devices",
        json={"name": "Beach", "kit_id": SCK_11, "latitude": 41.4, "longitude": 2.2},
        headers=auth,
    )
    assert created.status_code == 201
    device = created.json()
    _check(schemas.Device, device)
    stored = await client.post(
        f"{BASE}/devices/{device['id']}/readings",
        json={
            "data": [
                {"recorded_at": "2024-01-01T00:00:00Z", "sensors": [{"id": 12, "value": 21.5}]}
            ]
        },
        headers=auth,
    )
    _check(schemas.Queued, stored.json())
    async with platform.core() as core:
        target = await core.devices.get_by_id(alice.principal, device["id"])
        await core.telemetry.ingest(alice.principal, target.key, [Reading("13", 40.0, None)])

    measurement_id = (await client.get(f"{BASE}/measurements")).json()[0]["id"]
    answers: list[tuple[str, dict[str, str], Any]] = [
        ("", {}, schemas.Home),
        ("/devices", {}, list[schemas.Device]),
        (f"/devices/{device['id']}", {}, schemas.Device),
        ("/devices/world_map", {}, list[schemas.WorldMapDevice]),
        (
            f"/devices/{device['id']}/readings",
            {"sensor_id": "12", "rollup": "1h", "from": "2023-12-31", "to": "2024-01-02"},
            schemas.Readings,
        ),
        ("/users", {}, list[schemas.User]),
        (f"/users/{alice.principal.user_id}", {}, schemas.User),
        ("/me", {}, schemas.User),
        ("/sensors", {"per_page": "200"}, list[schemas.Sensor]),
        ("/sensors/12", {}, schemas.Sensor),
        ("/kits", {}, list[schemas.Kit]),
        (f"/kits/{SCK_11}", {}, schemas.Kit),
        ("/measurements", {}, list[schemas.Measurement]),
        (f"/measurements/{measurement_id}", {}, schemas.Measurement),
        ("/search", {"q": "a"}, list[schemas.SearchResult]),
        ("/devices/nothing", {}, schemas.ErrorEnvelope),
        ("/devices", {"q[bogus_eq]": "1"}, schemas.ErrorEnvelope),
    ]
    for path, params, model in answers:
        for headers in (auth, {}):
            response = await client.get(f"{BASE}{path}", params=params, headers=headers)
            if model is not schemas.ErrorEnvelope and headers:
                assert response.is_success, (path, response.text)
            # Anonymous /me is a 401: its body is the envelope, as every error's.
            _check(model if response.is_success else schemas.ErrorEnvelope, response.json())
    me = (await client.get(f"{BASE}/me", headers=auth)).json()
    assert me["devices"]  # the check above covered a user's device list, not an empty one
    assert (
        await client.get(f"{BASE}/devices/{device['id']}/readings", params=answers[4][1])
    ).json()["readings"]
