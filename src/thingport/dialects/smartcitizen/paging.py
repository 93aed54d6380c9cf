"""Ransack-style filters (`q[name_cont]=air`, `q[s]=id desc`) and page/per_page pagination with
the `Link`, `Total` and `Per-Page` headers, as every SmartCitizen list answers.

Each list names the SmartCitizen fields it accepts and the core field each one stands for; any
other field or predicate is a 400 (the live service configures ransack to refuse unknown
conditions too, which the official client's tests rely on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query
from starlette.requests import Request

from thingport.dialects.smartcitizen.errors import BadSearch
from thingport.kit.listing import Filter, FilterValue, ListQuery, Operator, Page, SortKey

DEFAULT_PER_PAGE = 25
# The live service has no ceiling; one keeps a single request from reading a whole table.
MAX_PER_PAGE = 1000

# Longest first, so `name_not_eq` is (name, not_eq) and not (name_not, eq).
_PREDICATES: tuple[Operator, ...] = (
    "not_null",
    "not_eq",
    "start",
    "lteq",
    "gteq",
    "null",
    "cont",
    "end",
    "eq",
    "lt",
    "gt",
    "in",
)


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _positive(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def page_request(
    page: Annotated[str | None, Query(description="1 is the first page")] = None,
    per_page: Annotated[
        str | None,
        Query(description=f"default {DEFAULT_PER_PAGE}, at most {MAX_PER_PAGE}"),
    ] = None,
) -> PageRequest:
    """Read as text: a page that is no positive number is the default, never a 422 (as on
    the live service)."""
    per_page_number = min(_positive(per_page, DEFAULT_PER_PAGE), MAX_PER_PAGE)
    return PageRequest(page=_positive(page, 1), per_page=per_page_number)


Pages = Annotated[PageRequest, Depends(page_request)]


def _split_term(term: str) -> tuple[str, Operator]:
    for predicate in _PREDICATES:
        suffix = "_" + predicate
        if term.endswith(suffix) and len(term) > len(suffix):
            return term[: -len(suffix)], predicate
    raise BadSearch(f"Invalid search term {term}", field=term)


def _sort_keys(values: list[str], fields: Mapping[str, str]) -> list[SortKey]:
    keys: list[SortKey] = []
    for value in values:
        for part in value.split(","):
            words = part.split()
            if not words:
                continue
            direction = words[1].lower() if len(words) > 1 else "asc"
            if words[0] not in fields or direction not in ("asc", "desc") or len(words) > 2:
                raise BadSearch(f"Invalid sort term {part.strip()}", field="sort")
            keys.append(SortKey(fields[words[0]], descending=direction == "desc"))
    return keys


def list_query(
    request: Request,
    fields: Mapping[str, str],
    pages: PageRequest,
    *,
    default_sort: tuple[SortKey, ...] = (),
    near: tuple[float, float] | None = None,
) -> ListQuery:
    """Read `q[...]` into a query of `pages`. `fields`: SmartCitizen name -> core field."""
    filters: list[Filter] = []
    sorts: list[str] = []
    for key, value in request.query_params.multi_items():
        if not key.startswith("q[") or not key.endswith("]"):
            continue
        term = key[2:-1].removesuffix("][")  # q[id_in][]=1 arrives as "id_in]["
        if term in ("s", "sort"):
            sorts.append(value)
            continue
        name, predicate = _split_term(term)
        if name not in fields:
            raise BadSearch(f"Invalid search term {term}", field=term)
        parsed: FilterValue = value
        if predicate == "in":
            parsed = tuple(v for v in value.split(",") if v != "")
        filters.append(Filter(fields[name], predicate, parsed))
    merged = _merge_in_filters(filters)
    sort = tuple(_sort_keys(sorts, fields)) or default_sort
    return ListQuery(
        filters=tuple(merged), sort=sort, offset=pages.offset, limit=pages.per_page, near=near
    )


def _merge_in_filters(filters: list[Filter]) -> list[Filter]:
    """`q[id_in][]=1&q[id_in][]=2` is one `in` filter over both values."""
    merged: list[Filter] = []
    in_values: dict[str, list[str | int | float]] = {}
    for flt in filters:
        if flt.op == "in" and isinstance(flt.value, tuple):
            in_values.setdefault(flt.field, []).extend(flt.value)
        else:
            merged.append(flt)
    merged += [Filter(name, "in", tuple(values)) for name, values in in_values.items()]
    return merged


def page_headers(request: Request, page: Page[Any], pages: PageRequest) -> dict[str, str]:
    """`Link` (first/prev/next/last with absolute URLs), `Total` and `Per-Page`."""
    last = max(1, -(-page.total // pages.per_page))
    links: list[str] = []

    def link(number: int, rel: str) -> None:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        params.append(("page", str(number)))
        url = str(request.url.replace(query=urlencode(params)))
        links.append(f'<{url}>; rel="{rel}"')

    if pages.page > 1:
        link(1, "first")
        link(min(pages.page - 1, last), "prev")
    if pages.page < last:
        link(last, "last")
        link(pages.page + 1, "next")
    headers = {"Total": str(page.total), "Per-Page": str(pages.per_page)}
    if links:
        headers["Link"] = ", ".join(links)
    return headers
