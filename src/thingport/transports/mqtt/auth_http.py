"""HTTP authentication and ACL endpoints that an external broker calls for every client.

With an external broker Thingport does not see device connections: the broker authenticates
each CONNECT and checks each PUBLISH and SUBSCRIBE by calling these endpoints, and the bridge
then trusts what arrives (`ClientIdentity.broker_verified`). The ACL here is therefore the only
thing keeping a device to its own topics on an external broker. Two plugin shapes are served
(BROKERS.md shows how to wire them):

- EMQX 5 HTTP authentication and authorization: `POST /mqtt-auth/emqx/authenticate` and
  `/mqtt-auth/emqx/authorize`, always answered 200 with `{"result": "allow"|"deny", ...}`.
  EMQX treats any other status as "ignore" and moves on down its chain, which with its
  default `no_match = allow` would let the client through: a deny must be a 200.
- mosquitto-go-auth's HTTP backend: `POST /mqtt-auth/go-auth/user`, `/superuser` and `/acl`,
  JSON or form parameters, answered by status (200 allow, 403 deny) with `{"ok", "error"}` so
  that its `status` and `json` response modes both work.

Rules. A client authenticates like on the embedded broker (`authenticate_mqtt`: an MQTT
credential id and its secret, or a user name with an API token), and the user name must name
the user the password belongs to: the ACL requests carry no password, only the user name, so a
token accepted under someone else's name would be checked against that other user's devices.
A client may use the topics `codec.allowed_topics(ClientIdentity(clientid, username), keys)`
of every codec, `keys` being the devices its user may change (owned; any for an admin). The
platform's own broker login (the user of `settings.mqtt_url`) is the one superuser. Anything
unknown, malformed or failing is denied, never a 5xx.

SmartCitizen kits have only their device token: a client with an empty password whose user
name (or client id, when the user name is empty) is a device token is that device, and may use
`device/sck/{token}/#` and nothing else. Since the ACL requests carry no password, a token that
is also a Thingport user name (or MQTT credential id) is refused: the two logins could not be
told apart there. `device/sck/...` topics are never a user login's.
"""

from __future__ import annotations

import hmac
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from paho.mqtt.client import topic_matches_sub

from thingport.kit.errors import ThingportError, Unauthenticated
from thingport.platform import Platform
from thingport.settings import Settings
from thingport.transports.mqtt.bridge import BrokerAddress
from thingport.transports.mqtt.codec import ClientIdentity, TopicCodec
from thingport.transports.mqtt.codecs.native import is_key
from thingport.transports.mqtt.codecs.registry import CODECS
from thingport.transports.mqtt.codecs.smartcitizen import PREFIX as KIT_PREFIX
from thingport.transports.mqtt.codecs.smartcitizen import token_topics
from thingport.web.deps import platform_of

log = logging.getLogger(__name__)

router = APIRouter(prefix="/mqtt-auth", include_in_schema=False)

# A topic may be 65,535 bytes (MQTT); the body holds it plus a few short fields and escapes.
MAX_BODY_BYTES = 512 * 1024
MAX_FIELD_CHARS = 65_535
MAX_TOPIC_BYTES = 65_535
# Denials by kind ("credentials", "topic", "malformed", "error"), for metrics and tests.
denials: Counter[str] = Counter()

# mosquitto's access values (mosquitto_plugin.h), as go-auth forwards them: MOSQ_ACL_READ (1)
# is checked on delivery of a message to a subscriber, MOSQ_ACL_WRITE (2) on publish, 3 is both,
# MOSQ_ACL_SUBSCRIBE (4) on SUBSCRIBE.
_ACC_READ, _ACC_SUBSCRIBE = 1, 4
_EMQX_ACTIONS = {"publish": False, "subscribe": True}  # action -> may carry a topic filter

# A valid device key that stands in for "the device" when asking a codec where in its topics
# the key goes (see `candidate_keys`).
_PROBE_KEY = "tp-acl-probe"


# -- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""
    superuser: bool = False


_ALLOWED = Decision(True)


def _deny(kind: str, reason: str) -> Decision:
    denials[kind] += 1
    return Decision(False, reason)


class _Malformed(ValueError):
    """A request that does not have the fields and types the endpoint expects."""


# -- topics and filters ------------------------------------------------------------------------


def _topic_ok(text: str) -> bool:
    return text != "" and "\0" not in text and len(text.encode()) <= MAX_TOPIC_BYTES


def valid_topic_name(topic: str) -> bool:
    """A topic a message can be published to: no wildcards (MQTT 3.1.1 4.7.3, 5.0 4.7.3)."""
    return _topic_ok(topic) and "+" not in topic and "#" not in topic


def valid_filter(topic_filter: str) -> bool:
    """A subscription filter: `+` fills a whole level, `#` only the whole last level."""
    if not _topic_ok(topic_filter):
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def filter_within(inner: str, outer: str) -> bool:
    """Whether every topic matched by the valid filter `inner` is matched by `outer`.

    A subscription is allowed only if all it can ever deliver is allowed, so `a/+/c` is within
    `a/#` but `a/#` is not within `a/+/c`. For a topic without wildcards this is exactly
    `topic_matches_sub(outer, inner)`. It errs only towards "no": `#` is treated as not
    within `+/#` although both match every topic that does not start with `$`.
    """
    if not inner:
        return False
    inner_levels = inner.split("/")
    outer_levels = outer.split("/")
    # Wildcards in the first level never match topics starting with "$" ($SYS/...).
    if inner.startswith("$") and outer_levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(outer_levels):
        if level == "#":
            return True  # "a/#" also matches "a" itself, as paho and the brokers do
        if index >= len(inner_levels):
            return False
        mine = inner_levels[index]
        if mine == "#":
            return False
        if level != "+" and mine != level:
            return False
    return len(inner_levels) == len(outer_levels)


def _within(requested: str, allowed: str) -> bool:
    if "+" in requested or "#" in requested:
        return filter_within(requested, allowed)
    return topic_matches_sub(allowed, requested)


def _unshare(topic_filter: str) -> str | None:
    """The filter of an MQTT 5 shared subscription `$share/{group}/{filter}`, or the filter
    itself; None for a malformed share. Sharing changes who gets a message, not which."""
    if not topic_filter.startswith("$share/"):
        return topic_filter
    parts = topic_filter.split("/", 2)
    if len(parts) < 3 or not parts[1] or "+" in parts[1] or "#" in parts[1] or not parts[2]:
        return None
    return parts[2]


def candidate_keys(
    client: ClientIdentity, requested: str, codecs: tuple[TopicCodec, ...] = CODECS
) -> list[str]:
    """The device keys whose allowed topics (in some codec) cover `requested`.

    Listing every device a user may change to build its filters costs a query over all of an
    admin's (or a fleet owner's) devices on every check. Instead each codec is asked for the
    filters of a stand-in key, which shows at which level a key sits; the level of `requested`
    there is the only key that can cover it, and the codec's real filters for that key decide.
    The codec stays the authority: a key it would not give a filter for is never a candidate.
    """
    levels = requested.split("/")
    positions = {
        index
        for codec in codecs
        for template in codec.allowed_topics(client, [_PROBE_KEY])
        for index, level in enumerate(template.split("/"))
        if level == _PROBE_KEY
    }
    found: list[str] = []
    for key in sorted({levels[index] for index in positions if index < len(levels)}):
        if any(
            _within(requested, allowed)
            for codec in codecs
            for allowed in codec.allowed_topics(client, [key])
        ):
            found.append(key)
    return found


# -- identities --------------------------------------------------------------------------------


def _platform_login(settings: Settings) -> tuple[str, str | None] | None:
    """User name and password the platform itself connects with, if it uses a broker login."""
    if not settings.mqtt_url:
        return None
    try:
        address = BrokerAddress.parse(settings.mqtt_url)
    except ValueError:
        return None
    if not address.username:
        return None
    return address.username, address.password


def _is_platform(settings: Settings, username: str) -> bool:
    # The client id is not compared: every worker connects with its own (THINGPORT_MQTT_CLIENT_ID
    # defaults to thingport-<hostname>), and the worker answering a broker's request is not
    # necessarily the one connecting. The password, checked at CONNECT, is the proof.
    login = _platform_login(settings)
    return login is not None and username == login[0]


# -- the checks --------------------------------------------------------------------------------


async def authenticate(
    platform: Platform, username: str, password: str, clientid: str = ""
) -> Decision:
    login = _platform_login(platform.settings)
    if login is not None and username == login[0]:
        # The platform's user name is reserved: no Thingport user can log in with it, whatever
        # its accounts hold, since every later check of that name is a superuser's.
        expected = login[1]
        if expected and hmac.compare_digest(password.encode(), expected.encode()):
            return Decision(True, superuser=True)
        return _deny("credentials", "invalid credentials")
    if not password:
        return await _token_login(platform, username, clientid)
    async with platform.core() as core:
        try:
            principal = await core.accounts.authenticate_mqtt(username, password)
        except Unauthenticated:
            return _deny("credentials", "invalid credentials")
        named = await core.accounts.mqtt_principal(username)
    if named is None or named.user_id != principal.user_id:
        return _deny(
            "credentials",
            "the user name must be the MQTT credential's id or the API token owner's user name",
        )
    return _ALLOWED


async def _kit_token(platform: Platform, username: str, clientid: str) -> str | None:
    """The device token a client logged in with, if it is one: the user name, or the client
    id when there is no user name; None when that names no device or is also a user's name."""
    token = username or clientid
    if not is_key(token):  # a token is never anything else; this also keeps wildcards out
        return None
    async with platform.core() as core:
        if await core.devices.resolve_token(token) is None:
            return None
        if username and await core.accounts.mqtt_principal(username) is not None:
            return None
    return token


async def _token_login(platform: Platform, username: str, clientid: str) -> Decision:
    if await _kit_token(platform, username, clientid) is None:
        return _deny("credentials", "invalid credentials")
    return _ALLOWED


async def authorize(
    platform: Platform, username: str, clientid: str, topic: str, *, may_filter: bool
) -> Decision:
    """May `username` use `topic`: publish to it (may_filter=False), or subscribe to it or
    receive from it (may_filter=True, the topic may then be a filter)."""
    if _is_platform(platform.settings, username):
        return Decision(True, superuser=True)
    if may_filter:
        unshared = _unshare(topic)
        if unshared is None or not valid_filter(unshared):
            return _deny("malformed", "not a valid topic filter")
        requested = unshared
    elif not valid_topic_name(topic):
        return _deny("malformed", "not a valid topic name")
    else:
        requested = topic
    if requested.startswith(KIT_PREFIX):
        # A kit's topics belong to its token alone (see the module's docstring).
        token = await _kit_token(platform, username, clientid)
        if token is not None and any(_within(requested, f) for f in token_topics(token)):
            return _ALLOWED
        return _deny("topic", "topic not allowed")
    keys = candidate_keys(ClientIdentity(client_id=clientid, username=username), requested)
    if not keys:
        return _deny("topic", "topic not allowed")
    async with platform.core() as core:
        principal = await core.accounts.mqtt_principal(username)
        if principal is None:
            return _deny("credentials", "unknown user")
        for key in keys:
            try:
                await core.devices.resolve(principal, key, change=True)
            except ThingportError:
                continue
            return _ALLOWED
    return _deny("topic", "topic not allowed")


def superuser(platform: Platform, username: str) -> Decision:
    # go-auth asks this before every ACL check; "no" is the normal answer, not a denial to count.
    if _is_platform(platform.settings, username):
        return Decision(True, superuser=True)
    return Decision(False, "not a superuser")


# -- request parsing ---------------------------------------------------------------------------


async def _fields(request: Request) -> dict[str, Any]:
    """The request's parameters, from a form (go-auth's form mode) or a JSON object."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise _Malformed(f"the body exceeds {MAX_BODY_BYTES} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(
                body.decode(), keep_blank_values=True, strict_parsing=True, errors="strict"
            )
        except ValueError as error:  # UnicodeDecodeError is a ValueError too
            raise _Malformed(f"the form cannot be parsed: {error}") from None
        fields: dict[str, Any] = {}
        for name, value in pairs:
            if name in fields:  # which one would the broker have meant?
                raise _Malformed(f"the field {name!r} is repeated")
            fields[name] = value
        return fields
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Malformed("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _Malformed("the body is not a JSON object")
    return data


def _text(fields: dict[str, Any], name: str, default: str | None = None) -> str:
    value = fields.get(name, default)
    if value is None:
        raise _Malformed(f"the field {name!r} is missing")
    if not isinstance(value, str):
        raise _Malformed(f"the field {name!r} must be a text")
    if len(value) > MAX_FIELD_CHARS or "\0" in value:
        raise _Malformed(f"the field {name!r} is too long or holds NUL")
    return value


def _acc(fields: dict[str, Any]) -> int:
    value = fields.get("acc")
    # An int in go-auth's JSON mode, a text in its form mode; never a bool (True == 1).
    if isinstance(value, str) and value in ("1", "2", "3", "4"):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
        return value
    raise _Malformed("'acc' must be 1 (read), 2 (write), 3 (readwrite) or 4 (subscribe)")


Check = Callable[[Platform, dict[str, Any]], Awaitable[Decision]]


async def _decide(request: Request, what: str, check: Check) -> Decision:
    """Run a check on the request's fields; a malformed request or any failure is a denial.

    Failing closed matters here: EMQX reads a 5xx as "ignore" and may then let the client in.
    """
    fields: dict[str, Any] = {}
    try:
        fields = await _fields(request)
        decision = await check(platform_of(request), fields)
    except _Malformed as error:
        decision = _deny("malformed", f"malformed request: {error}")
    except Exception:
        log.exception("MQTT %s check failed; denying", what)
        decision = _deny("error", "internal error")
    if not decision.allowed:
        username = fields.get("username")
        log.log(
            logging.DEBUG if what == "superuser" else logging.INFO,
            "MQTT %s denied for %s: %s",
            what,
            repr(username[:80]) if isinstance(username, str) else "an unnamed client",
            decision.reason,
        )
    return decision


# -- EMQX 5 ------------------------------------------------------------------------------------


async def _emqx_authn(platform: Platform, fields: dict[str, Any]) -> Decision:
    # The client id is optional, but a wrong type is still a malformed request.
    return await authenticate(
        platform,
        _text(fields, "username"),
        _text(fields, "password", ""),
        _text(fields, "clientid", ""),
    )


async def _emqx_authz(platform: Platform, fields: dict[str, Any]) -> Decision:
    action = _text(fields, "action").lower()
    if action not in _EMQX_ACTIONS:
        raise _Malformed("'action' must be publish or subscribe")
    return await authorize(
        platform,
        _text(fields, "username"),
        _text(fields, "clientid", ""),
        _text(fields, "topic"),
        may_filter=_EMQX_ACTIONS[action],
    )


@router.post("/emqx/authenticate")
async def emqx_authenticate(request: Request) -> JSONResponse:
    decision = await _decide(request, "authentication", _emqx_authn)
    return JSONResponse(
        {"result": "allow" if decision.allowed else "deny", "is_superuser": decision.superuser}
    )


@router.post("/emqx/authorize")
async def emqx_authorize(request: Request) -> JSONResponse:
    decision = await _decide(request, "authorization", _emqx_authz)
    return JSONResponse({"result": "allow" if decision.allowed else "deny"})


# -- mosquitto-go-auth -------------------------------------------------------------------------


def _go_auth(decision: Decision) -> JSONResponse:
    return JSONResponse(
        {"ok": decision.allowed, "error": decision.reason},
        status_code=200 if decision.allowed else 403,
    )


async def _go_user(platform: Platform, fields: dict[str, Any]) -> Decision:
    return await authenticate(
        platform,
        _text(fields, "username"),
        _text(fields, "password", ""),
        _text(fields, "clientid", ""),
    )


async def _go_superuser(platform: Platform, fields: dict[str, Any]) -> Decision:
    return superuser(platform, _text(fields, "username"))


async def _go_acl(platform: Platform, fields: dict[str, Any]) -> Decision:
    acc = _acc(fields)
    return await authorize(
        platform,
        _text(fields, "username"),
        _text(fields, "clientid", ""),
        _text(fields, "topic"),
        # READ is asked per delivered message (a topic), but mosquitto before 1.5 also asked
        # it for SUBSCRIBE (a filter); both are checked as a filter, which covers a topic.
        may_filter=acc in (_ACC_READ, _ACC_SUBSCRIBE),
    )


@router.post("/go-auth/user")
async def go_auth_user(request: Request) -> JSONResponse:
    return _go_auth(await _decide(request, "authentication", _go_user))


@router.post("/go-auth/superuser")
async def go_auth_superuser(request: Request) -> JSONResponse:
    return _go_auth(await _decide(request, "superuser", _go_superuser))


@router.post("/go-auth/acl")
async def go_auth_acl(request: Request) -> JSONResponse:
    return _go_auth(await _decide(request, "acl", _go_acl))
