"""A list request in neutral terms: filters, sort order and a page.

Dialects parse their own syntax (SmartCitizen's ransack `q[name_cont]=x`, ...) into a
`ListQuery` over the *core's* field names; repositories turn it into SQL over an allow-list of
columns (storage/listing.py). A field outside that allow-list is refused there, so no dialect can
filter on a column the core did not mean to expose (password hashes, tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

Operator = Literal[
    "eq", "not_eq", "lt", "lteq", "gt", "gteq", "cont", "start", "end", "in", "null", "not_null"
]
OPERATORS: frozenset[str] = frozenset(Operator.__args__)  # type: ignore[attr-defined]

FilterValue = str | int | float | bool | None | tuple[str | int | float, ...]


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    op: Operator
    value: FilterValue


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class ListQuery:
    filters: tuple[Filter, ...] = ()
    sort: tuple[SortKey, ...] = ()
    offset: int = 0
    limit: int | None = None
    # Order by distance from (latitude, longitude), nearest first, before any other sort key.
    near: tuple[float, float] | None = None


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    query: ListQuery = field(default_factory=ListQuery)
