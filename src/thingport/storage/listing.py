"""Turning a `ListQuery` (kit/listing.py) into SQL over an allow-list of columns.

Repositories call `filtered()` with the columns a caller may filter and sort on; everything else
is an `InvalidInput` naming the field, so a typo is a 400 and never silently ignored.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, DateTime, Float, Integer, Select, and_, func
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.types import TypeEngine

from thingport.kit.errors import InvalidInput
from thingport.kit.listing import Filter, ListQuery
from thingport.kit.timeparse import parse_time

Column = ColumnElement[Any] | QueryableAttribute[Any]
Columns = Mapping[str, Column]


def _python_type(sql_type: TypeEngine[Any]) -> type:
    if isinstance(sql_type, Boolean):
        return bool
    if isinstance(sql_type, Integer):
        return int
    if isinstance(sql_type, Float):
        return float
    if isinstance(sql_type, DateTime) or isinstance(getattr(sql_type, "impl", None), DateTime):
        return datetime
    return str


def _parse_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "t", "1", "yes"):
        return True
    if text in ("false", "f", "0", "no"):
        return False
    raise ValueError(text)


def _coerce(name: str, column: Column, raw: object) -> Any:
    kind = _python_type(column.type)
    try:
        if kind is bool:
            return _parse_bool(raw)
        if kind is int:
            return int(str(raw).strip())
        if kind is float:
            value = float(str(raw).strip())
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
        if kind is datetime:
            if isinstance(raw, datetime):
                return raw
            return datetime.fromtimestamp(parse_time(str(raw)) / 1000, tz=UTC)
    except (ValueError, TypeError) as error:
        raise InvalidInput(
            f"{name}: {raw!r} is not a valid {kind.__name__} value", field=name
        ) from error
    return str(raw)


def _condition(columns: Columns, flt: Filter) -> ColumnElement[bool]:
    column = columns.get(flt.field)
    if column is None:
        allowed = ", ".join(sorted(columns))
        raise InvalidInput(
            f"cannot filter on {flt.field!r}; filterable fields: {allowed}", field=flt.field
        )
    op = flt.op
    if op in ("null", "not_null"):
        try:
            wanted = _parse_bool(flt.value)
        except ValueError as error:
            raise InvalidInput(
                f"{flt.field}: {flt.value!r} is not true or false", field=flt.field
            ) from error
        is_null = wanted if op == "null" else not wanted
        return column.is_(None) if is_null else column.is_not(None)
    if op == "in":
        values = flt.value if isinstance(flt.value, tuple) else (flt.value,)
        return column.in_([_coerce(flt.field, column, v) for v in values])
    if op in ("cont", "start", "end"):
        if _python_type(column.type) is not str:
            # LIKE on a number or a date is an error on PostgreSQL (and means little anywhere).
            raise InvalidInput(
                f"{flt.field}: {op} works on text fields only", field=flt.field
            )
        text = str(flt.value)
        if op == "cont":
            return column.icontains(text, autoescape=True)
        if op == "start":
            return column.istartswith(text, autoescape=True)
        return column.iendswith(text, autoescape=True)
    value = _coerce(flt.field, column, flt.value)
    comparisons: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "eq": operator.eq,
        "not_eq": operator.ne,
        "lt": operator.lt,
        "lteq": operator.le,
        "gt": operator.gt,
        "gteq": operator.ge,
    }
    if op in comparisons:
        return comparisons[op](column, value)
    raise InvalidInput(f"unknown predicate {op!r}", field=flt.field)  # pragma: no cover


def filtered(
    statement: Select[Any],
    columns: Columns,
    query: ListQuery,
    *,
    location: tuple[Column, Column] | None = None,
    tie_breaker: Column | None = None,
) -> tuple[Select[Any], Select[Any]]:
    """(page statement, count statement) for `statement` narrowed by the query's filters.

    `location` are the (latitude, longitude) columns `near` orders by; `tie_breaker` (the primary
    key) makes every order total, so pages never repeat or skip a row.
    """
    conditions = [_condition(columns, flt) for flt in query.filters]
    if conditions:
        statement = statement.where(and_(*conditions))
    # maintain_column_froms: a plain select(Model) keeps its table once the columns are gone.
    count = statement.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    order: list[Column] = []
    if query.near is not None:
        if location is None:
            raise InvalidInput("this list cannot be ordered by distance", field="near")
        latitude, longitude = location
        lat0, lng0 = query.near
        # Equirectangular distance: the cosine is a constant computed here, so the SQL is plain
        # arithmetic that SQLite (no trigonometry by default) and PostgreSQL both run.
        scale = math.cos(math.radians(lat0))
        distance = (latitude - lat0) * (latitude - lat0) + (
            (longitude - lng0) * scale * (longitude - lng0) * scale
        )
        order += [latitude.is_(None), distance]
    for key in query.sort:
        column = columns.get(key.field)
        if column is None:
            allowed = ", ".join(sorted(columns))
            raise InvalidInput(
                f"cannot sort on {key.field!r}; sortable fields: {allowed}", field="sort"
            )
        order.append(column.desc() if key.descending else column.asc())
    if tie_breaker is not None:
        order.append(tie_breaker)
    statement = statement.order_by(*order)
    if query.offset:
        statement = statement.offset(query.offset)
    if query.limit is not None:
        statement = statement.limit(query.limit)
    return statement, count
