"""FastAPI plumbing shared by the dialects: one unit of work per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from thingport.platform import Core, Platform


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def core_for_request(request: Request) -> AsyncIterator[Core]:
    # scope="function" below: the transaction commits before the response is sent, so a client
    # never sees success for data that then failed to commit.
    async with platform_of(request).core() as core:
        yield core


CoreDep = Annotated[Core, Depends(core_for_request, scope="function")]
