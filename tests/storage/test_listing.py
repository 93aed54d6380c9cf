"""List queries in SQL: counts with and without filters, operators, refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Account, make_account
from thingport.core.accounts.models import User
from thingport.kit.errors import InvalidInput
from thingport.kit.listing import Filter, ListQuery, SortKey
from thingport.platform import Platform
from thingport.storage.listing import filtered

COLUMNS = {"id": User.id, "username": User.username, "created_at": User.created_at}


async def _page(platform: Platform, query: ListQuery) -> tuple[list[str], int]:
    async with platform.db.sessions() as session:
        statement, count = filtered(select(User), COLUMNS, query, tie_breaker=User.id)
        names = [u.username for u in (await session.execute(statement)).scalars()]
        total = (await session.execute(count)).scalar_one()
    return names, int(total)


async def test_counts_without_and_with_filters(platform: Platform, alice: Account) -> None:
    for name in ("bob", "carol", "dave"):
        await make_account(platform, name)
    assert await _page(platform, ListQuery(limit=2)) == (["alice", "bob"], 4)
    assert await _page(
        platform,
        ListQuery(filters=(Filter("username", "cont", "A"),), sort=(SortKey("username", True),)),
    ) == (["dave", "carol", "alice"], 3)
    assert await _page(platform, ListQuery(filters=(Filter("id", "in", ("1", "3")),))) == (
        ["alice", "carol"],
        2,
    )
    assert await _page(platform, ListQuery(filters=(Filter("username", "cont", "%"),))) == ([], 0)
    assert await _page(
        platform, ListQuery(filters=(Filter("created_at", "lt", "2001-01-01"),))
    ) == ([], 0)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (ListQuery(filters=(Filter("email", "eq", "x"),)), "email", "cannot filter on 'email'"),
        (ListQuery(sort=(SortKey("email"),)), "sort", "cannot sort on 'email'"),
        (
            ListQuery(filters=(Filter("created_at", "gt", "not a time"),)),
            "created_at",
            "'not a time' is not a valid datetime value",
        ),
        (ListQuery(near=(1.0, 2.0)), "near", "cannot be ordered by distance"),
    ],
)
async def test_refusals(platform: Platform, query: ListQuery, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        await _page(platform, query)
    assert caught.value.field == field


async def test_text_predicates_on_a_number_are_refused_not_a_database_error(
    platform: Platform,
) -> None:
    with pytest.raises(InvalidInput, match="text fields only"):
        await _page(platform, ListQuery(filters=(Filter("id", "cont", "1"),)))
