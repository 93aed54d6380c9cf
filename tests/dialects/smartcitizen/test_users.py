"""Users: sign-up, the user JSON and who sees what, lists with filters and pages, /me."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Account, make_account
from thingport.core.accounts.models import User
from thingport.core.accounts.schemas import UserCreate
from thingport.platform import Platform

V0 = "/smartcitizen/v0"
USER_KEYS = [
    "id",
    "uuid",
    "role",
    "username",
    "first_name",
    "last_name",
    "profile_picture",
    "avatar",
    "url",
    "location",
    "joined_at",
    "updated_at",
    "email",
    "legacy_api_key",
    "forwarding_token",
    "forwarding_username",
    "devices",
]
SECRETS = ("email", "legacy_api_key", "forwarding_token", "forwarding_username")
SIGN_UP = {"username": "ann", "email": "ann@example.com", "password": "long enough"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _count_users(platform: Platform) -> int:
    async with platform.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def _admin(platform: Platform) -> str:
    async with platform.core() as core:
        user = await core.accounts.create_user(
            UserCreate(username="root", email="root@example.com", role="admin")
        )
        return (await core.accounts.issue_api_key(user.id, "test")).token


# --- the seed's examples -------------------------------------------------------------------


async def test_get_a_user_as_in_the_seed(client: httpx.AsyncClient, platform: Platform) -> None:
    await make_account(platform, "someone")
    await make_account(platform, "alex")
    # curl -G https://new-api.smartcitizen.me/v0/users/2
    response = await client.get(f"{V0}/users/2")
    assert response.status_code == 200
    user = response.json()
    assert list(user) == USER_KEYS
    assert user["id"] == 2
    assert user["username"] == "alex"
    assert user["role"] == "citizen"
    assert (user["first_name"], user["last_name"], user["avatar"], user["url"]) == (None,) * 4
    assert user["profile_picture"] == ""
    assert user["location"] == {"city": None, "country_code": None, "country": None}
    assert user["devices"] == []
    assert user["joined_at"].endswith("Z")
    assert len(user["joined_at"]) == len("2015-02-02T15:54:37Z")
    for key in SECRETS:
        assert user[key] == "[FILTERED]", key


async def test_get_all_users_in_id_order(client: httpx.AsyncClient, platform: Platform) -> None:
    for name in ("zed", "amy", "max"):
        await make_account(platform, name)
    response = await client.get(f"{V0}/users")
    assert response.status_code == 200
    assert [u["username"] for u in response.json()] == ["zed", "amy", "max"]
    assert response.headers["Total"] == "3"
    assert "Link" not in response.headers
    # The connector's spelling: trailing slash; and the unprefixed route.
    assert (await client.get(f"{V0}/users/")).json() == response.json()
    assert (await client.get("/smartcitizen/users")).json() == response.json()


async def test_me_with_bearer_shows_the_real_email(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(f"{V0}/me", headers=bearer(alice.token))
    assert response.status_code == 200
    me = response.json()
    assert list(me) == USER_KEYS
    assert me["username"] == "alice"
    assert me["email"] == "alice@example.com"
    # Tokens are kept hashed and there is no forwarding: nothing to show, but not filtered.
    assert (me["legacy_api_key"], me["forwarding_token"], me["forwarding_username"]) == (
        None,
        None,
        None,
    )


async def test_me_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V0}/me")
    assert response.status_code == 401
    assert response.json() == {
        "id": "unauthorized",
        "message": "Authorization required",
        "url": "https://developer.smartcitizen.me/#authentication",
        "errors": "",
    }


# --- who sees what -------------------------------------------------------------------------


async def test_others_see_filtered_secrets_the_user_and_admins_the_email(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    admin = await _admin(platform)
    path = f"{V0}/users/alice"
    by_bob = (await client.get(path, headers=bearer(bob.token))).json()
    anonymous = (await client.get(path)).json()
    own = (await client.get(path, headers=bearer(alice.token))).json()
    by_admin = (await client.get(path, headers=bearer(admin))).json()
    for view in (by_bob, anonymous):
        assert [view[k] for k in SECRETS] == ["[FILTERED]"] * 4
    assert own["email"] == by_admin["email"] == "alice@example.com"
    listed = (await client.get(f"{V0}/users", headers=bearer(alice.token))).json()
    emails = {u["username"]: u["email"] for u in listed}
    assert emails == {"alice": "alice@example.com", "bob": "[FILTERED]", "root": "[FILTERED]"}
    admin_view = (await client.get(f"{V0}/users/root", headers=bearer(admin))).json()
    assert admin_view["role"] == "admin"


async def test_user_by_username_with_dots_and_unknown_users(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await make_account(platform, "jo.doe")
    assert (await client.get(f"{V0}/users/jo.doe")).json()["username"] == "jo.doe"
    missing_id = await client.get(f"{V0}/users/999")
    assert missing_id.status_code == 404
    assert missing_id.json() == {
        "id": "record_not_found",
        "message": "Couldn't find User with 'id'=999",
        "url": "",
        "errors": "",
    }
    missing_name = await client.get(f"{V0}/users/notauser")
    assert missing_name.status_code == 404
    assert missing_name.json()["message"] == 'can\'t find record with friendly id: "notauser"'


# --- lists: pages and filters --------------------------------------------------------------


async def test_thirty_users_in_pages(client: httpx.AsyncClient, platform: Platform) -> None:
    for number in range(30):
        await make_account(platform, f"user{number:02d}")
    first = await client.get(f"{V0}/users")
    assert first.headers["Total"] == "30"
    assert first.headers["Per-Page"] == "25"
    assert len(first.json()) == 25
    second = await client.get(f"{V0}/users", params={"page": "2"})
    assert [u["username"] for u in second.json()] == [f"user{n}" for n in range(25, 30)]
    four = await client.get(f"{V0}/users", params={"per_page": "4"})
    assert len(four.json()) == 4
    assert four.headers["Per-Page"] == "4"
    links = {rel: url for url, rel in (_link(part) for part in four.headers["Link"].split(", "))}
    assert set(links) == {"next", "last"}
    assert "page=8" in links["last"]
    # Follow rel="next" to the end, as the official client does.
    seen = [u["username"] for u in four.json()]
    url: str | None = links["next"]
    while url:
        page = await client.get(url)
        seen += [u["username"] for u in page.json()]
        nexts = [u for u, rel in map(_link, page.headers["Link"].split(", ")) if rel == "next"]
        url = nexts[0] if nexts else None
    assert seen == [f"user{n:02d}" for n in range(30)]


def _link(part: str) -> tuple[str, str]:
    url, rel = part.split("; ")
    return url.strip("<>"), rel.removeprefix('rel="').removesuffix('"')


async def test_filters_and_sorting(client: httpx.AsyncClient, platform: Platform) -> None:
    for name in ("sck_one", "other", "my_sck", "sck"):
        await make_account(platform, name)

    async def names(**params: str) -> list[str]:
        response = await client.get(f"{V0}/users", params=params)
        assert response.status_code == 200, response.text
        return [u["username"] for u in response.json()]

    assert await names(**{"q[username_cont]": "SCK"}) == ["sck_one", "my_sck", "sck"]
    assert await names(**{"q[username_eq]": "sck"}) == ["sck"]
    assert await names(**{"q[sort]": "username desc"}) == ["sck_one", "sck", "other", "my_sck"]
    assert await names(**{"q[s]": "username asc", "q[username_start]": "sck"}) == [
        "sck",
        "sck_one",
    ]
    assert await names(**{"q[id_in]": "1,4"}) == ["sck_one", "sck"]


@pytest.mark.parametrize("term", ["nothing_eq", "email_eq", "password_hash_cont", "username"])
async def test_unknown_or_private_filter_is_400(client: httpx.AsyncClient, term: str) -> None:
    response = await client.get(f"{V0}/users", params={f"q[{term}]": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "id": "bad_request",
        "message": f"Invalid search term {term}",
        "url": "",
        "errors": "",
        "status": 400,
    }


# --- sign-up -------------------------------------------------------------------------------


async def test_sign_up_with_json_form_or_query(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    by_json = await client.post(
        f"{V0}/users",
        json=SIGN_UP
        | {
            "first_name": "Ann",
            "last_name": "Lee",
            "city": "Barcelona",
            "country_code": "es",
            "url": "https://ann.example.com",
            "avatar": "https://ann.example.com/me.png",
        },
    )
    assert by_json.status_code == 201, by_json.text
    ann = by_json.json()
    assert list(ann) == USER_KEYS
    assert (ann["first_name"], ann["last_name"]) == ("Ann", "Lee")
    assert ann["location"] == {"city": "Barcelona", "country_code": "ES", "country": "Spain"}
    assert ann["avatar"] == ann["profile_picture"] == "https://ann.example.com/me.png"
    # Created anonymously: the new user's e-mail is not echoed, as on the live service.
    assert ann["email"] == "[FILTERED]"
    by_form = await client.post(
        f"{V0}/users",
        data={"username": "ben", "email": "ben@example.com", "password": "long enough"},
    )
    assert by_form.status_code == 201, by_form.text
    by_query = await client.post(
        f"{V0}/users",
        params={"username": "cyd", "email": "cyd@example.com", "password": "long enough"},
    )
    assert by_query.status_code == 201, by_query.text
    login = await client.get(f"{V0}/me", auth=httpx.BasicAuth("cyd", "long enough"))
    assert login.json()["email"] == "cyd@example.com"
    assert await _count_users(platform) == 3


async def test_sign_up_refusals_store_nothing(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    bad = await client.post(
        f"{V0}/users",
        json={
            "username": "ALICE",
            "email": "not an email",
            "password": "short",
            "url": "javascript:alert(1)",
            "profile_picture": "nope",
        },
    )
    assert bad.status_code == 422
    assert bad.json() == {
        "id": "unprocessable_entity",
        "message": "Unprocessable Entity",
        "errors": {
            "username": ["has already been taken"],
            "email": ["is invalid"],
            "password": ["is too short (minimum is 8 characters)"],
            "url": ["is invalid (an http or https URL)"],
            "profile_picture": ["is invalid (an http or https URL)"],
        },
        "url": "",
    }
    too_short = await client.post(f"{V0}/users", json=SIGN_UP | {"username": "an"})
    assert too_short.status_code == 422
    assert too_short.json()["errors"] == {"username": ["is too short (minimum is 3 characters)"]}
    too_long = await client.post(f"{V0}/users", json=SIGN_UP | {"username": "a" * 31})
    assert too_long.json()["errors"] == {"username": ["is too long (maximum is 30 characters)"]}
    taken_email = await client.post(f"{V0}/users", json=SIGN_UP | {"email": "Alice@example.com"})
    assert taken_email.json()["errors"] == {"email": ["has already been taken"]}
    assert await _count_users(platform) == 1


async def test_sign_up_without_required_params_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{V0}/users", json={"username": "ann", "email": ""})
    assert response.status_code == 400
    assert response.json() == {
        "id": "parameter_missing",
        "message": "param is missing or the value is empty: email and password",
        "url": "",
        "errors": "",
    }
    unreadable = await client.post(
        f"{V0}/users", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert unreadable.status_code == 400


async def test_signed_in_users_cannot_create_users_but_admins_can(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    refused = await client.post(f"{V0}/users", json=SIGN_UP, headers=bearer(alice.token))
    assert refused.status_code == 403
    assert refused.json()["id"] == "forbidden"
    admin = await _admin(platform)
    created = await client.post(f"{V0}/users", json=SIGN_UP, headers=bearer(admin))
    assert created.status_code == 201
    assert created.json()["email"] == "ann@example.com"


# --- updating /me --------------------------------------------------------------------------


async def test_update_me_with_patch_or_put(client: httpx.AsyncClient, alice: Account) -> None:
    patched = await client.patch(
        f"{V0}/me",
        headers=bearer(alice.token),
        json={"city": "Leeds", "country_code": "GB", "first_name": "Alice"},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["location"] == {
        "city": "Leeds",
        "country_code": "GB",
        "country": "United Kingdom",
    }
    assert body["first_name"] == "Alice"
    put = await client.put(
        f"{V0}/me",
        headers=bearer(alice.token),
        data={"username": "alice.b", "city": "", "password": "a new password"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["username"] == "alice.b"
    assert put.json()["location"]["city"] is None
    assert put.json()["first_name"] == "Alice"
    basic = await client.get(f"{V0}/me", auth=httpx.BasicAuth("alice.b", "a new password"))
    assert basic.status_code == 200


async def test_update_me_refusals_change_nothing(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    refused = await client.patch(
        f"{V0}/me",
        headers=bearer(alice.token),
        json={"username": "bob", "city": "Oslo", "email": "nope", "password": "short"},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == {
        "username": ["has already been taken"],
        "email": ["is invalid"],
        "password": ["is too short (minimum is 8 characters)"],
    }
    blank = await client.patch(f"{V0}/me", headers=bearer(alice.token), json={"username": ""})
    assert blank.json()["errors"] == {"username": ["can't be blank"]}
    me = (await client.get(f"{V0}/me", headers=bearer(alice.token))).json()
    assert (me["username"], me["location"]["city"]) == ("alice", None)
    anonymous = await client.patch(f"{V0}/me", json={"city": "Oslo"})
    assert anonymous.status_code == 401
