"""Root endpoint, versioning, trailing slashes, pretty printing, JSON-P and the error envelope."""

from __future__ import annotations

import httpx
import orjson
import pytest

from thingport.dialects.smartcitizen.app import build_app
from thingport.dialects.smartcitizen.state import state_of

BASE = "/smartcitizen/v0"


async def test_root_lists_the_categories_as_absolute_urls(client: httpx.AsyncClient) -> None:
    for path in (BASE, f"{BASE}/", "/smartcitizen/"):
        response = await client.get(path)
        assert response.status_code == 200, path
        body = response.json()
        assert body["devices_url"] == "http://thingport.test/smartcitizen/v0/devices"
        assert body["users_url"].endswith("/smartcitizen/v0/users")
        assert body["current_user_url"].endswith("/smartcitizen/v0/me")


async def test_accept_header_selects_version_0_and_refuses_others(
    client: httpx.AsyncClient,
) -> None:
    ok = await client.get(
        BASE, headers={"Accept": "application/vnd.smartcitizen; version=0,application/json"}
    )
    assert ok.status_code == 200
    other = await client.get(BASE, headers={"Accept": "application/vnd.smartcitizen; version=3"})
    assert other.status_code == 406
    assert other.json()["id"] == "not_acceptable"


async def test_unknown_endpoint_is_not_found_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "id": "not_found",
        "message": "Endpoint not found",
        "url": None,
        "errors": None,
    }


async def test_pretty_indents_the_same_document(client: httpx.AsyncClient) -> None:
    compact = await client.get(BASE)
    pretty = await client.get(BASE, params={"pretty": "true"})
    assert b"\n  " in pretty.content
    assert b"\n" not in compact.content
    assert orjson.loads(pretty.content) == compact.json()
    assert int(pretty.headers["content-length"]) == len(pretty.content)


async def test_callback_wraps_json_p(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE, params={"callback": "jQuery.cb_1"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    text = response.text
    assert text.startswith("/**/jQuery.cb_1(")
    assert text.endswith(")")
    assert orjson.loads(text[len("/**/jQuery.cb_1(") : -1])["devices_url"].endswith("/devices")


async def test_callback_keeps_the_status_of_an_error(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/nothing-here", params={"callback": "cb"})
    assert response.status_code == 404
    assert response.text.startswith("/**/cb({")


@pytest.mark.parametrize("callback", ["alert(1)", "a b", "<script>", "1abc", "a..b"])
async def test_callback_that_is_not_an_identifier_is_refused(
    client: httpx.AsyncClient, callback: str
) -> None:
    response = await client.get(BASE, params={"callback": callback})
    assert response.status_code == 400
    assert callback not in response.text


def test_each_app_keeps_its_own_state() -> None:
    # Two platform apps in one process (as the tests build) share no world map or counts.
    first, second = state_of(build_app()), state_of(build_app())
    assert first is not second
    first.legacy_rejections["x"] += 1
    assert second.legacy_rejections["x"] == 0
