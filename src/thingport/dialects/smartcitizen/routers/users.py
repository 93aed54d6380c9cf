"""Users, the current user, sessions and password resets.

    POST /v0/users                     sign up (201)
    GET  /v0/users                     list (ransack filters, pages)
    GET  /v0/users/:id_or_username
    GET|PATCH|PUT /v0/me
    POST /v0/sessions                  username (or e-mail) + password -> {"access_token": ...}
    POST /v0/password_resets           e-mails a reset token
    GET  /v0/password_resets/:token    whose password it resets
    PATCH|PUT /v0/password_resets/:token?password=NEW

Parameters come from the query string, a form body or a JSON body, as Rails merges them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from thingport.core.accounts.schemas import Principal, ProfileInput, UserProfile
from thingport.core.accounts.service import ResetLookup
from thingport.dialects.smartcitizen import openapi, schemas
from thingport.dialects.smartcitizen.auth import CallerPrincipal, MaybePrincipal
from thingport.dialects.smartcitizen.device_views import devices_of_user, devices_of_users
from thingport.dialects.smartcitizen.errors import ParameterMissing, Unprocessable, field_errors
from thingport.dialects.smartcitizen.paging import Pages, list_query, page_headers
from thingport.dialects.smartcitizen.params import request_params
from thingport.dialects.smartcitizen.render import api_url, json_response
from thingport.dialects.smartcitizen.users_json import user_json
from thingport.kit.errors import Forbidden, InvalidFields, Problem, Unauthenticated
from thingport.kit.listing import Page, SortKey
from thingport.platform import Core
from thingport.web.deps import CoreDep

router = APIRouter()

# SmartCitizen field -> core field, for q[...] filters and q[s] sorting (the live service's
# ransackable user attributes, plus the names it shows).
USER_FIELDS = {
    "id": "id",
    "uuid": "uuid",
    "username": "username",
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "city",
    "country_code": "country_code",
    "created_at": "created_at",
    "updated_at": "updated_at",
}

# SmartCitizen parameter -> core profile field. The live service calls the picture
# `profile_picture` (an upload there, a URL here); the seed calls it `avatar`.
_PROFILE_PARAMS = {
    "username": "username",
    "email": "email",
    "password": "password",
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "city",
    "country_code": "country_code",
    "url": "url",
    "avatar": "avatar_url",
    "profile_picture": "avatar_url",
}
# SmartCitizen's own username rule, stricter than the core's 1..64.
USERNAME_LENGTH = (3, 30)
RESET_LOOKUPS: tuple[tuple[str, ResetLookup], ...] = (
    ("email", "email"),
    ("username", "username"),
    ("email_or_username", "either"),
)

# What the live service says of a wrong password at log-in.
WRONG_PASSWORD = "is incorrect"

Params = dict[str, str | None]
Problems = dict[str, list[Problem]]

UserRef = Annotated[str, Path(description="a user's numeric id or username")]
ResetToken = Annotated[str, Path(description="the token the reset e-mail carries")]
_UPDATE = openapi.body(schemas.UserParams, required=False)
_RESET = openapi.body(schemas.NewPasswordParams)


async def _params(request: Request) -> Params:
    """Rails-style merged parameters as text: JSON null stays None, numbers and booleans become
    their text, nested values are not parameters of these endpoints."""
    params: Params = {}
    for key, value in (await request_params(request)).items():
        if value is None or isinstance(value, str):
            params[key] = value
        elif isinstance(value, bool):
            params[key] = "true" if value else "false"
        elif isinstance(value, int | float):
            params[key] = str(value)
    return params


def _profile_input(params: Params) -> ProfileInput:
    given: dict[str, str | None] = {}
    for name, field in _PROFILE_PARAMS.items():
        if name in params:
            given[field] = params[name]
    return ProfileInput(**given)


def _username_errors(params: Params) -> Problems:
    username = (params.get("username") or "").strip()
    low, high = USERNAME_LENGTH
    if "username" not in params or not username:
        return {}
    if len(username) < low:
        return {"username": [Problem.too_short(low)]}
    if len(username) > high:
        return {"username": [Problem.too_long(high)]}
    return {}


def _unprocessable(params: Params, core_problems: Problems, own: Problems) -> Unprocessable:
    """The core's field problems under SmartCitizen's parameter names, with the dialect's own,
    in Rails' words."""
    picture = "profile_picture" if "profile_picture" in params else "avatar"
    merged: Problems = {name: list(problems) for name, problems in own.items()}
    for field, problems in core_problems.items():
        name = picture if field == "avatar_url" else field
        for problem in problems:
            # One length rule per field: the dialect's is the stricter.
            if name in own and problem.code == "too_long":
                continue
            merged.setdefault(name, []).append(problem)
    return Unprocessable(field_errors(merged))


async def _render(core: Core, viewer: Principal | None, user: UserProfile) -> dict[str, Any]:
    return user_json(user, await devices_of_user(core, viewer, user.id))


# --- users ---------------------------------------------------------------------------------


@router.post(
    "/users",
    status_code=201,
    response_model=schemas.User,
    openapi_extra=openapi.body(schemas.UserParams),
)
async def create_user(request: Request, core: CoreDep, viewer: MaybePrincipal) -> Response:
    if viewer is not None and not viewer.is_admin:
        # The live service lets only admins create accounts while logged in.
        raise Forbidden("You do not have the access permissions to do this")
    params = await _params(request)
    missing = [name for name in ("username", "email", "password") if not params.get(name)]
    if missing:
        raise ParameterMissing(*missing)
    own = _username_errors(params)
    try:
        user = await core.accounts.register_user(_profile_input(params), viewer)
    except InvalidFields as error:
        raise _unprocessable(params, error.problems, own) from None
    if own:
        # The core accepted it, SmartCitizen does not: raising rolls the new user back.
        raise _unprocessable(params, {}, own)
    return json_response(await _render(core, viewer, user), 201)


@router.get("/users", response_model=list[schemas.User], openapi_extra=openapi.listing(USER_FIELDS))
async def list_users(
    request: Request, core: CoreDep, viewer: MaybePrincipal, pages: Pages
) -> Response:
    query = list_query(request, USER_FIELDS, pages, default_sort=(SortKey("id"),))
    page = await core.accounts.list_users(viewer, query)
    devices = await devices_of_users(core, viewer, [user.id for user in page.items])
    body = [user_json(user, devices[user.id]) for user in page.items]
    counted: Page[object] = Page(list(page.items), page.total, page.query)
    return json_response(body, headers=page_headers(request, counted, pages))


@router.get("/users/{ref}", response_model=schemas.User, openapi_extra=openapi.read())
async def get_user(ref: UserRef, core: CoreDep, viewer: MaybePrincipal) -> Response:
    user = await core.accounts.find_profile(viewer, ref)
    return json_response(await _render(core, viewer, user))


# --- the current user ----------------------------------------------------------------------


@router.get("/me", response_model=schemas.User, openapi_extra=openapi.read())
async def get_me(core: CoreDep, principal: CallerPrincipal) -> Response:
    user = await core.accounts.profile(principal, principal.user_id)
    return json_response(await _render(core, principal, user))


# One route per method: a route of two methods gives both the same OpenAPI operation id.
@router.put("/me", response_model=schemas.User, openapi_extra=_UPDATE)
@router.patch("/me", response_model=schemas.User, openapi_extra=_UPDATE)
async def update_me(request: Request, core: CoreDep, principal: CallerPrincipal) -> Response:
    params = await _params(request)
    own = _username_errors(params)
    try:
        user = await core.accounts.update_profile(principal, _profile_input(params))
    except InvalidFields as error:
        raise _unprocessable(params, error.problems, own) from None
    if own:
        raise _unprocessable(params, {}, own)
    return json_response(await _render(core, principal, user))


# --- sessions ------------------------------------------------------------------------------


@router.post(
    "/sessions",
    response_model=schemas.Session,
    openapi_extra=openapi.body(schemas.SessionParams),
)
async def create_session(request: Request, core: CoreDep) -> Response:
    params = await _params(request)
    login, password = params.get("username"), params.get("password")
    if not login or not password:
        raise ParameterMissing("username", "password")
    try:
        issued = await core.accounts.start_session(login, password)
    except Unauthenticated as error:
        if error.field != "password":
            raise
        # The live service's body for a wrong password, strings rather than lists included.
        return json_response(
            {
                "id": "unprocessable_entity",
                "message": "Unprocessable Entity",
                "errors": {"message": {"password": WRONG_PASSWORD}, "password": WRONG_PASSWORD},
                "url": "",
            },
            422,
        )
    return json_response({"access_token": issued.token})


# --- password resets -----------------------------------------------------------------------


def _reset_login(params: Params) -> tuple[str, ResetLookup]:
    for name, lookup in RESET_LOOKUPS:
        login = (params.get(name) or "").strip()
        if login:
            return login, lookup
    raise Unprocessable("Please include parameter email, username or email_or_username")


@router.post(
    "/password_resets",
    response_model=schemas.Message,
    openapi_extra=openapi.body(schemas.PasswordResetParams),
)
async def request_password_reset(
    request: Request, core: CoreDep, viewer: MaybePrincipal
) -> Response:
    if viewer is not None and not viewer.is_admin:
        # As on the live service: a logged-in user changes their password with PATCH /me.
        raise Forbidden("You do not have the access permissions to do this")
    params = await _params(request)
    login, lookup = _reset_login(params)
    reset_url = api_url(request, "password_resets/{token}")
    await core.accounts.request_password_reset(
        login,
        by=lookup,
        instructions=f"To choose a new password, send: PUT {reset_url}?password=NEW_PASSWORD",
    )
    return json_response({"message": "Password Reset Instructions Delivered"})


@router.get("/password_resets/{token}", response_model=schemas.User, openapi_extra=openapi.read())
async def get_password_reset(token: ResetToken, core: CoreDep, viewer: MaybePrincipal) -> Response:
    user = await core.accounts.password_reset_profile(token, viewer)
    return json_response(await _render(core, viewer, user))


@router.put("/password_resets/{token}", response_model=schemas.User, openapi_extra=_RESET)
@router.patch("/password_resets/{token}", response_model=schemas.User, openapi_extra=_RESET)
async def reset_password(
    token: ResetToken, request: Request, core: CoreDep, viewer: MaybePrincipal
) -> Response:
    params = await _params(request)
    password = params.get("password")
    if not password:
        raise ParameterMissing("password")
    try:
        user = await core.accounts.reset_password(token, password, viewer)
    except InvalidFields as error:
        raise _unprocessable(params, error.problems, {}) from None
    return json_response(await _render(core, viewer, user))
