"""Who is calling: the three ways the seed lists, and the anonymous reader.

OAuth2 access tokens arrive as `?access_token=`, `Authorization: Bearer X` or `Authorization:
token X`; the legacy form is `Authorization: Token token=X`; HTTP Basic carries a username (or
e-mail) and password. Thingport's API tokens are the access tokens (`POST /v0/sessions` hands one
out). No credentials means anonymous, which may read public data; credentials that do not check
out are a 401 (the live service would quietly treat them as anonymous, which hides the mistake).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from thingport.core.accounts.schemas import Principal
from thingport.kit.errors import Unauthenticated
from thingport.platform import Core
from thingport.web.credentials import (
    BasicCredentials,
    UnreadableCredentials,
    authenticate,
    request_credentials,
)
from thingport.web.deps import CoreDep


async def _authenticate(request: Request, core: Core) -> Principal | None:
    credentials = request_credentials(request, query_token="access_token")
    if credentials is None:
        return None
    if isinstance(credentials, UnreadableCredentials):
        raise Unauthenticated("Authorization header not understood: use Bearer, Basic or Token")
    try:
        return await authenticate(core, credentials)
    except Unauthenticated:
        if isinstance(credentials, BasicCredentials):
            raise Unauthenticated("Invalid Username/Password Combination") from None
        raise Unauthenticated("Invalid OAuth2 Params") from None


async def optional_principal(request: Request, core: CoreDep) -> Principal | None:
    return await _authenticate(request, core)


async def required_principal(request: Request, core: CoreDep) -> Principal:
    principal = await _authenticate(request, core)
    if principal is None:
        raise Unauthenticated("Authorization required")
    return principal


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]
CallerPrincipal = Annotated[Principal, Depends(required_principal)]
