"""The HTTP auth and ACL endpoints external brokers call (EMQX 5, mosquitto-go-auth)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from tests.conftest import Account, make_account
from thingport.core.accounts.schemas import UserCreate
from thingport.core.accounts.service import AccountsService
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform
from thingport.transports.mqtt import auth_http
from thingport.transports.mqtt.auth_http import (
    candidate_keys,
    filter_within,
    valid_filter,
    valid_topic_name,
)
from thingport.transports.mqtt.codec import ClientIdentity

PLATFORM_USER = "thingport-broker"
PLATFORM_PASSWORD = "s3cret-of-the-platform"

EMQX_AUTHN = "/mqtt-auth/emqx/authenticate"
EMQX_AUTHZ = "/mqtt-auth/emqx/authorize"
GO_USER = "/mqtt-auth/go-auth/user"
GO_SUPERUSER = "/mqtt-auth/go-auth/superuser"
GO_ACL = "/mqtt-auth/go-auth/acl"

ALLOW = {"result": "allow"}
DENY = {"result": "deny"}


def native(key: str, kind: str = "telemetry") -> str:
    return f"thingport/v1/devices/{key}/{kind}"


def _key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _device(platform: Platform, owner: Account, key: str, *, public: bool = False) -> str:
    async with platform.core() as core:
        await core.devices.create(owner.principal, DeviceCreate(key=key, public=public))
    return key


@pytest.fixture
def platform_login(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """The platform connects to its broker as PLATFORM_USER. Set on the running platform only:
    the app fixture's own settings keep no broker URL, so no bridge tries to connect."""
    url = f"mqtt://{PLATFORM_USER}:{PLATFORM_PASSWORD}@127.0.0.1:1883"
    monkeypatch.setattr(
        platform, "settings", platform.settings.model_copy(update={"mqtt_url": url})
    )


async def go_auth(
    client: httpx.AsyncClient, path: str, mode: str, **fields: object
) -> tuple[int, Any]:
    """A request as mosquitto-go-auth sends it in its json or form params mode."""
    if mode == "json":
        response = await client.post(path, json=fields)
    else:
        response = await client.post(path, data={k: str(v) for k, v in fields.items()})
    return response.status_code, response.json()


async def emqx(client: httpx.AsyncClient, path: str, **fields: object) -> Any:
    response = await client.post(path, json=fields)
    assert response.status_code == 200  # EMQX reads any other status as "ignore"
    return response.json()


# -- topic filters (pure) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "name", "filter_"),
    [
        ("a/b/c", True, True),
        ("a//c", True, True),
        ("$SYS/broker", True, True),
        ("a/+/c", False, True),
        ("a/#", False, True),
        ("#", False, True),
        ("+", False, True),
        ("a/#/c", False, False),
        ("a/b#", False, False),
        ("a/b+/c", False, False),
        ("", False, False),
        ("a/\0", False, False),
        ("x" * 65_536, False, False),
    ],
)
def test_topic_names_and_filters_are_validated(topic: str, name: bool, filter_: bool) -> None:
    assert valid_topic_name(topic) is name
    assert valid_filter(topic) is filter_


@pytest.mark.parametrize(
    ("inner", "outer", "within"),
    [
        ("a/b/c", "a/#", True),
        ("a", "a/#", True),  # "a/#" matches its parent level too
        ("a/+/c", "a/#", True),
        ("a/+/#", "a/#", True),
        ("a/#", "a/#", True),
        ("a/b", "a/+", True),
        ("a/+", "a/+", True),
        ("a/#", "a/+", False),
        ("a/+", "a/b", False),
        ("a/#", "a/b/#", False),
        ("+/b", "a/#", False),
        ("#", "a/#", False),
        ("a/b/c", "a/+", False),
        ("a", "a/+", False),
        ("b/c", "a/#", False),
        ("$SYS/x", "#", False),
        ("$SYS/x", "+/x", False),
        ("$SYS/x", "$SYS/#", True),
        ("#", "#", True),
    ],
)
def test_filter_inclusion(inner: str, outer: str, within: bool) -> None:
    assert filter_within(inner, outer) is within


_LEVELS = st.sampled_from(["a", "b", "$s", ""])
# Lists of levels that join to a non-empty topic (MQTT has no empty topic or filter).
_LEVEL_LISTS = st.lists(_LEVELS, min_size=1, max_size=5).filter(lambda levels: levels != [""])
_TOPICS = _LEVEL_LISTS.map("/".join)


@st.composite
def _filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(st.sampled_from(["a", "b", "$s", "", "+"]), min_size=1, max_size=5))
    if draw(st.booleans()):
        levels = [*levels[: draw(st.integers(0, len(levels)))], "#"]
    return "/".join(levels) or "+"


@given(topic=_TOPICS, outer=_filters())
def test_inclusion_of_a_topic_is_paho_matching(topic: str, outer: str) -> None:
    assert filter_within(topic, outer) is topic_matches_sub(outer, topic)


@st.composite
def _topic_and_a_filter_matching_it(draw: st.DrawFn) -> tuple[str, str]:
    levels = draw(_LEVEL_LISTS)
    wild = [draw(st.sampled_from([level, "+"])) for level in levels]
    if draw(st.booleans()):
        wild = [*wild[: draw(st.integers(0, len(wild)))], "#"]
    return "/".join(levels), "/".join(wild) or "+"


@given(pair=_topic_and_a_filter_matching_it(), outer=_filters())
def test_inclusion_never_lets_through_a_topic_the_outer_filter_refuses(
    pair: tuple[str, str], outer: str
) -> None:
    topic, inner = pair
    assert valid_filter(inner)
    assume(topic_matches_sub(inner, topic))  # not so when a first-level wildcard meets "$s"
    if filter_within(inner, outer):
        assert topic_matches_sub(outer, topic)


def test_candidate_keys_come_from_the_codecs_filters() -> None:
    client = ClientIdentity(client_id="c1", username="u1")
    assert candidate_keys(client, native("K1")) == ["K1"]
    assert candidate_keys(client, "thingport/v1/devices/K1/#") == ["K1"]
    assert candidate_keys(client, "thingport/v1/gateways/G1/devices/S1/telemetry") == ["G1"]
    assert candidate_keys(client, "v1/u1/things/K1/data/1") == ["K1"]
    assert candidate_keys(client, "v1/u1/things/K1/cmd/+") == ["K1"]
    # Another account's Cayenne topics, a wildcard where the key goes, unknown conventions:
    assert candidate_keys(client, "v1/u2/things/K1/data/1") == []
    assert candidate_keys(client, "thingport/v1/devices/+/telemetry") == []
    assert candidate_keys(client, "thingport/v1/#") == []
    assert candidate_keys(client, "other/K1/telemetry") == []
    # A user name with a wildcard gets no Cayenne topics at all.
    wild = ClientIdentity(client_id="c1", username="+")
    assert candidate_keys(wild, "v1/+/things/K1/data/1") == []


# -- EMQX 5 authentication ---------------------------------------------------------------------


async def test_emqx_authenticates_a_token_under_its_owners_name(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    body = {"username": "alice", "password": alice.token, "clientid": "dev-1"}
    assert await emqx(client, EMQX_AUTHN, **body) == {"result": "allow", "is_superuser": False}
    # A token is accepted only under its owner's user name: the ACL requests that follow
    # carry the name alone, and "bob" would be checked against Bob's devices.
    for username in ("bob", "anything", ""):
        body = {"username": username, "password": alice.token, "clientid": "dev-1"}
        assert await emqx(client, EMQX_AUTHN, **body) == {"result": "deny", "is_superuser": False}


async def test_emqx_authenticates_mqtt_credentials(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        issued = await core.accounts.issue_mqtt_credentials(alice.principal.user_id)
    good = {"username": issued.username, "password": issued.password, "clientid": "thing-1"}
    assert (await emqx(client, EMQX_AUTHN, **good))["result"] == "allow"
    bad = {**good, "password": issued.password + "x"}
    assert (await emqx(client, EMQX_AUTHN, **bad))["result"] == "deny"


async def test_emqx_denies_unknown_users_and_wrong_passwords(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for username, password in [
        ("nobody", "tp_abc_def"),
        ("alice", "not-a-token"),
        ("alice", alice.token[:-2]),
        ("alice", ""),
        (str(uuid.uuid4()), "whatever"),
    ]:
        body = {"username": username, "password": password, "clientid": "c"}
        assert (await emqx(client, EMQX_AUTHN, **body))["result"] == "deny"


@pytest.mark.usefixtures("platform_login")
async def test_emqx_platform_login_is_the_superuser(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    # Any client id: each worker has its own (THINGPORT_MQTT_CLIENT_ID).
    body = {"username": PLATFORM_USER, "password": PLATFORM_PASSWORD, "clientid": "worker-7"}
    assert await emqx(client, EMQX_AUTHN, **body) == {"result": "allow", "is_superuser": True}
    wrong = {**body, "password": "guess"}
    assert await emqx(client, EMQX_AUTHN, **wrong) == {"result": "deny", "is_superuser": False}
    # The name is reserved: a Thingport user of that name cannot use it with a token.
    namesake = await make_account(platform, PLATFORM_USER)
    token = {**body, "password": namesake.token}
    assert (await emqx(client, EMQX_AUTHN, **token))["result"] == "deny"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b'["alice", "pw"]', "application/json"),
        (b'{"username": 5, "password": "pw"}', "application/json"),
        (b'{"username": null, "password": "pw"}', "application/json"),
        (b'{"password": "pw"}', "application/json"),
        (b'{"username": "alice", "password": ["pw"]}', "application/json"),
        (b'{"username": "a\\u0000b", "password": "pw"}', "application/json"),
        (b"\xff\xfe", "text/plain"),
    ],
)
async def test_emqx_malformed_authentication_is_a_200_deny(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    before = auth_http.denials["malformed"]
    response = await client.post(
        EMQX_AUTHN, content=content, headers={"content-type": content_type}
    )
    assert response.status_code == 200
    assert response.json() == {"result": "deny", "is_superuser": False}
    assert auth_http.denials["malformed"] == before + 1


# -- EMQX 5 authorization ----------------------------------------------------------------------


async def test_emqx_authorizes_a_users_own_devices_only(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    mine = await _device(platform, alice, _key("A"))
    theirs = await _device(platform, bob, _key("B"))
    public = await _device(platform, bob, _key("P"), public=True)
    me = {"username": "alice", "clientid": mine}

    async def decide(action: str, topic: str) -> Any:
        return await emqx(client, EMQX_AUTHZ, **me, action=action, topic=topic)

    assert await decide("publish", native(mine)) == ALLOW
    assert await decide("publish", native(mine, "responses")) == ALLOW
    assert await decide("subscribe", native(mine, "commands")) == ALLOW
    assert await decide("subscribe", f"thingport/v1/devices/{mine}/#") == ALLOW
    assert await decide("subscribe", f"$share/g1/thingport/v1/devices/{mine}/commands") == ALLOW
    # Another user's device, even a public one Alice may read: only changing rights count.
    assert await decide("publish", native(theirs)) == DENY
    assert await decide("subscribe", native(theirs, "commands")) == DENY
    assert await decide("publish", native(public)) == DENY
    # A device that does not exist, and topics of no convention.
    assert await decide("publish", native("NO-SUCH-DEVICE")) == DENY
    assert await decide("publish", "somewhere/else") == DENY
    assert await decide("publish", "$SYS/broker/uptime") == DENY


async def test_emqx_wildcard_subscriptions_must_stay_within_the_devices_topics(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    mine = await _device(platform, alice, _key("A"))
    me = {"username": "alice", "clientid": mine, "action": "subscribe"}
    for allowed in (f"thingport/v1/devices/{mine}/+", f"thingport/v1/devices/{mine}/+/x/#"):
        assert await emqx(client, EMQX_AUTHZ, **me, topic=allowed) == ALLOW, allowed
    for denied in (
        "#",
        "+/#",
        "thingport/#",
        "thingport/v1/devices/#",
        "thingport/v1/devices/+/commands",
        "thingport/v1/devices/+/#",
        f"thingport/v1/+/{mine}/#",
        "$share/g1/thingport/v1/devices/+/commands",
        "$share/g1",
        "$share//x",
        f"thingport/v1/devices/{mine}/#/x",  # not a valid filter
    ):
        assert await emqx(client, EMQX_AUTHZ, **me, topic=denied) == DENY, denied
    # A publish names one topic: wildcards there are malformed.
    publish = {**me, "action": "publish"}
    assert await emqx(client, EMQX_AUTHZ, **publish, topic=f"thingport/v1/devices/{mine}/+") == DENY


async def test_emqx_authorizes_cayenne_topics_under_the_credentials_name(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    thing = await _device(platform, alice, _key("T"))
    other = await _device(platform, bob, _key("O"))
    async with platform.core() as core:
        mine = await core.accounts.issue_mqtt_credentials(alice.principal.user_id)
        bobs = await core.accounts.issue_mqtt_credentials(bob.principal.user_id)
    me = {"username": mine.username, "clientid": thing}
    base = f"v1/{mine.username}/things/{thing}"
    assert await emqx(client, EMQX_AUTHZ, **me, action="publish", topic=f"{base}/data/1") == ALLOW
    assert await emqx(client, EMQX_AUTHZ, **me, action="subscribe", topic=f"{base}/cmd/+") == ALLOW
    # Another credential's topics for the same thing, and a thing of another user.
    theirs = f"v1/{bobs.username}/things/{thing}/data/1"
    assert await emqx(client, EMQX_AUTHZ, **me, action="publish", topic=theirs) == DENY
    foreign = f"v1/{mine.username}/things/{other}/data/1"
    assert await emqx(client, EMQX_AUTHZ, **me, action="publish", topic=foreign) == DENY
    as_bob = {"username": bobs.username, "clientid": thing, "action": "publish"}
    assert await emqx(client, EMQX_AUTHZ, **as_bob, topic=theirs) == DENY


async def test_emqx_authorizes_gateways_of_the_user(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    gateway = await _device(platform, alice, _key("G"))
    foreign = await _device(platform, bob, _key("H"))
    me = {"username": "alice", "clientid": gateway, "action": "publish"}
    topic = f"thingport/v1/gateways/{gateway}/devices/node-1/telemetry"
    assert await emqx(client, EMQX_AUTHZ, **me, topic=topic) == ALLOW
    assert (
        await emqx(client, EMQX_AUTHZ, **me, topic=f"thingport/v1/gateways/{gateway}/telemetry")
        == ALLOW
    )
    other = f"thingport/v1/gateways/{foreign}/telemetry"
    assert await emqx(client, EMQX_AUTHZ, **me, topic=other) == DENY


async def test_emqx_admins_may_use_any_devices_topics(
    client: httpx.AsyncClient, platform: Platform, bob: Account
) -> None:
    async with platform.core() as core:
        await core.accounts.create_user(
            UserCreate(username="root", email="root@example.com", role="admin")
        )
    theirs = await _device(platform, bob, _key("B"))
    body = {"username": "root", "clientid": "ops", "action": "publish", "topic": native(theirs)}
    assert await emqx(client, EMQX_AUTHZ, **body) == ALLOW


async def test_emqx_denies_unknown_users_and_malformed_authorization(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    mine = await _device(platform, alice, _key("A"))
    good = {"username": "alice", "clientid": "c", "action": "publish", "topic": native(mine)}
    assert await emqx(client, EMQX_AUTHZ, **good) == ALLOW
    for bad in (
        {**good, "username": "mallory"},
        {**good, "username": ""},
        {**good, "action": "retain"},
        {**good, "action": 1},
        {**good, "topic": ""},
        {**good, "topic": None},
        {key: value for key, value in good.items() if key != "topic"},
        {key: value for key, value in good.items() if key != "action"},
    ):
        assert await emqx(client, EMQX_AUTHZ, **bad) == DENY, bad
    response = await client.post(
        EMQX_AUTHZ, content=b"]", headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (200, DENY)


@pytest.mark.usefixtures("platform_login")
async def test_emqx_platform_may_use_any_topic(client: httpx.AsyncClient) -> None:
    body = {"username": PLATFORM_USER, "clientid": "worker-1", "action": "subscribe"}
    topic = "$share/thingport/thingport/v1/devices/+/telemetry"
    assert await emqx(client, EMQX_AUTHZ, **body, topic=topic) == ALLOW


# -- mosquitto-go-auth -------------------------------------------------------------------------

MODES = ["json", "form"]


@pytest.mark.parametrize("mode", MODES)
async def test_go_auth_user(
    client: httpx.AsyncClient, platform: Platform, alice: Account, mode: str
) -> None:
    async with platform.core() as core:
        issued = await core.accounts.issue_mqtt_credentials(alice.principal.user_id)
    for username, password in [("alice", alice.token), (issued.username, issued.password)]:
        status, body = await go_auth(
            client, GO_USER, mode, username=username, password=password, clientid="d1"
        )
        assert (status, body) == (200, {"ok": True, "error": ""})
    for username, password in [("alice", "wrong"), ("bob", alice.token), ("nobody", "x")]:
        status, body = await go_auth(
            client, GO_USER, mode, username=username, password=password, clientid="d1"
        )
        assert status == 403
        assert body["ok"] is False
        assert body["error"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.usefixtures("platform_login")
async def test_go_auth_superuser_is_the_platform_only(
    client: httpx.AsyncClient, alice: Account, mode: str
) -> None:
    status, body = await go_auth(
        client, GO_USER, mode, username=PLATFORM_USER, password=PLATFORM_PASSWORD, clientid="w"
    )
    assert status == 200
    assert await go_auth(client, GO_SUPERUSER, mode, username=PLATFORM_USER) == (
        200,
        {"ok": True, "error": ""},
    )
    status, body = await go_auth(client, GO_SUPERUSER, mode, username="alice")
    assert (status, body["ok"]) == (403, False)
    status, _ = await go_auth(
        client, GO_ACL, mode, username=PLATFORM_USER, clientid="w", topic="anything/#", acc=4
    )
    assert status == 200


async def test_go_auth_has_no_superuser_without_a_platform_login(
    client: httpx.AsyncClient,
) -> None:
    # Without THINGPORT_MQTT_URL (or one without a user) there is no platform login at all.
    status, body = await go_auth(client, GO_SUPERUSER, "json", username="thingport")
    assert (status, body["ok"]) == (403, False)


@pytest.mark.parametrize("mode", MODES)
async def test_go_auth_acl(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account, mode: str
) -> None:
    mine = await _device(platform, alice, _key("A"))
    theirs = await _device(platform, bob, _key("B"))

    async def acl(topic: str, acc: int) -> int:
        status, body = await go_auth(
            client, GO_ACL, mode, username="alice", clientid=mine, topic=topic, acc=acc
        )
        assert body["ok"] is (status == 200)
        return status

    for acc in (1, 2, 3, 4):
        assert await acl(native(mine), acc) == 200, acc
        assert await acl(native(theirs), acc) == 403, acc
    # Filters: checked on SUBSCRIBE (4), and on READ (1) as old mosquitto versions did.
    assert await acl(f"thingport/v1/devices/{mine}/#", 4) == 200
    assert await acl(f"thingport/v1/devices/{mine}/+", 1) == 200
    assert await acl("thingport/v1/devices/+/commands", 4) == 403
    assert await acl("#", 4) == 403
    # A write names one topic; a wildcard there is malformed.
    assert await acl(f"thingport/v1/devices/{mine}/+", 2) == 403
    assert await acl(f"thingport/v1/devices/{mine}/#", 3) == 403


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{", "application/json"),
        (b'{"username": "alice", "clientid": "c", "topic": "t", "acc": true}', "application/json"),
        (b'{"username": "alice", "clientid": "c", "topic": "t", "acc": 5}', "application/json"),
        (b'{"username": "alice", "clientid": "c", "topic": "t", "acc": 1.5}', "application/json"),
        (b'{"username": "alice", "clientid": "c", "topic": "t"}', "application/json"),
        (b"username=alice&clientid=c&topic=t&acc=9", "application/x-www-form-urlencoded"),
        (b"username=alice&username=bob&topic=t&acc=1", "application/x-www-form-urlencoded"),
        (b"username=alice&topic=%ff&acc=1", "application/x-www-form-urlencoded"),
        (b"username&&&", "application/x-www-form-urlencoded"),
    ],
)
async def test_go_auth_malformed_acl_requests_are_403(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(GO_ACL, content=content, headers={"content-type": content_type})
    assert response.status_code == 403
    assert response.json()["ok"] is False
    assert response.json()["error"].startswith("malformed request")


async def test_go_auth_malformed_user_and_superuser_requests_are_403(
    client: httpx.AsyncClient,
) -> None:
    for path in (GO_USER, GO_SUPERUSER):
        for content in (b"nonsense", b"[]", b'{"username": 1}', b"{}"):
            response = await client.post(
                path, content=content, headers={"content-type": "application/json"}
            )
            assert (response.status_code, response.json()["ok"]) == (403, False), (path, content)


async def test_a_failing_check_denies_instead_of_a_500(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(AccountsService, "mqtt_principal", broken)
    body = {"username": "alice", "password": alice.token, "clientid": "c"}
    assert (await emqx(client, EMQX_AUTHN, **body))["result"] == "deny"
    status, _ = await go_auth(client, GO_USER, "json", **body)
    assert status == 403


# -- SmartCitizen kits: the device token is the login -------------------------------------------


async def _kit_token(platform: Platform, owner: Account) -> str:
    async with platform.core() as core:
        device = await core.devices.create(owner.principal, DeviceCreate(key=_key("SCK")))
        return await core.devices.issue_token(owner.principal, device.key)


async def test_emqx_a_kit_logs_in_with_its_token_and_uses_its_topics_only(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    token = await _kit_token(platform, alice)
    other = await _kit_token(platform, bob)
    # The token as user name with no password, or as client id with neither.
    for login in ({"username": token}, {"username": "", "clientid": token}):
        body = {"clientid": "sck-1", "password": "", **login}
        assert (await emqx(client, EMQX_AUTHN, **body))["result"] == "allow", login

        async def may(topic: str, action: str = "publish", login: dict[str, str] = login) -> str:
            answer = await emqx(
                client, EMQX_AUTHZ, **{"clientid": "sck-1", **login}, action=action, topic=topic
            )
            return str(answer["result"])

        for kind in ("readings", "readings/raw", "info", "hello"):
            assert await may(f"device/sck/{token}/{kind}") == "allow"
        assert await may(f"device/sck/{token}/#", "subscribe") == "allow"
        assert await may(f"device/sck/{other}/readings") == "deny"
        assert await may("device/sck/+/readings", "subscribe") == "deny"
        assert await may(native("anything")) == "deny"
    # Wrong or absent tokens, and a token with a password, do not log in.
    for body in (
        {"username": "ffffff", "password": "", "clientid": "c"},
        {"username": "", "password": "", "clientid": "c"},
        {"username": token, "password": "x", "clientid": "c"},
        {"username": "a/#", "password": "", "clientid": "c"},
    ):
        assert (await emqx(client, EMQX_AUTHN, **body))["result"] == "deny", body
    # A user's login opens no kit's topics, even its own devices'.
    topic = f"device/sck/{token}/readings"
    answer = await emqx(
        client, EMQX_AUTHZ, username="alice", clientid=token, action="publish", topic=topic
    )
    assert answer == DENY


async def test_a_token_that_is_also_a_user_name_is_refused(
    client: httpx.AsyncClient, platform: Platform, alice: Account
) -> None:
    # ACL requests carry no password: the user and the kit could not be told apart there.
    token = await _kit_token(platform, alice)
    await make_account(platform, token)
    body = {"username": token, "password": "", "clientid": "c"}
    assert (await emqx(client, EMQX_AUTHN, **body))["result"] == "deny"
    topic = f"device/sck/{token}/readings"
    answer = await emqx(
        client, EMQX_AUTHZ, username=token, clientid="c", action="publish", topic=topic
    )
    assert answer == DENY


@pytest.mark.parametrize("mode", MODES)
async def test_go_auth_a_kit_token(
    client: httpx.AsyncClient, platform: Platform, alice: Account, mode: str
) -> None:
    token = await _kit_token(platform, alice)
    status, _ = await go_auth(client, GO_USER, mode, username=token, password="", clientid="k")
    assert status == 200
    for topic, acc, expected in [
        (f"device/sck/{token}/readings", 2, 200),
        (f"device/sck/{token}/#", 4, 200),
        ("device/sck/ffffff/readings", 2, 403),
        (native("x"), 2, 403),
    ]:
        status, _ = await go_auth(
            client, GO_ACL, mode, username=token, clientid="k", topic=topic, acc=acc
        )
        assert status == expected, topic
