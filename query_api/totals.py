"""``pagination.total`` of the history listing, from the count projection.

Whole days come from ``analysis_count`` (a sum over a few small rows); the
partial days at the edges of a date filter are counted exactly in
``analysis_request`` over just that part of the day (an index range on
``created_at``). The result equals ``count(*)`` with the same filters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import ColumnElement, and_, bindparam, func, literal_column, select

from query_api.compiled import Compiled, compile_for_asyncpg
from read_model.tables import analysis_count, analysis_request

c = analysis_count
t = analysis_request


@dataclass(frozen=True, slots=True)
class Filters:
    status: str | None
    media_type: str | None
    tenant: UUID | None
    date_from: datetime | None
    date_to: datetime | None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Present:
    """Which filters a total has: that, not their values, decides its SQL."""

    status: bool
    media_type: bool
    tenant: bool


def _same_filters(table: Any, present: _Present, tenant_column: str) -> list[ColumnElement[bool]]:
    status, media_type = table.c.status, table.c.media_type
    conditions: list[ColumnElement[bool]] = [
        status == bindparam("status", type_=status.type)
        if present.status
        else status != literal_column("'deleted'")  # see views.NOT_DELETED
    ]
    if present.media_type:
        conditions.append(media_type == bindparam("media_type", type_=media_type.type))
    if present.tenant:
        column = table.c[tenant_column]
        conditions.append(column == bindparam("tenant", type_=column.type))
    return conditions


@functools.lru_cache(maxsize=256)
def _rows_between(present: _Present, low: bool, high: bool, high_inclusive: bool) -> Compiled:
    conditions = _same_filters(t, present, "created_by")
    at = t.c.created_at
    if low:
        conditions.append(at >= bindparam("low", type_=at.type))
    if high:
        upper = bindparam("high", type_=at.type)
        conditions.append(at <= upper if high_inclusive else at < upper)
    return compile_for_asyncpg(select(func.count()).select_from(t).where(and_(*conditions)))


@functools.lru_cache(maxsize=256)
def _buckets_between(present: _Present, first: bool, last: bool) -> Compiled:
    conditions = _same_filters(c, present, "tenant")
    if first:
        conditions.append(c.c.day >= bindparam("first", type_=c.c.day.type))
    if last:
        conditions.append(c.c.day <= bindparam("last", type_=c.c.day.type))
    statement = select(func.coalesce(func.sum(c.c.n), literal_column("0"))).where(and_(*conditions))
    return compile_for_asyncpg(statement)


def plan(f: Filters) -> list[tuple[Compiled, dict[str, Any]]]:
    """The statements (with their values) whose results add up to the total."""
    low = f.date_from.astimezone(UTC) if f.date_from is not None else None
    high = f.date_to.astimezone(UTC) if f.date_to is not None else None
    # Whole days inside [low, high]: from the first midnight at or after low to the
    # day before the one holding high (that day is partial unless high ends it).
    first = (
        None
        if low is None
        else (low.date() if low.time() == time.min else low.date() + timedelta(days=1))
    )
    last = None if high is None else high.date() - timedelta(days=1)
    shape = _Present(f.status is not None, f.media_type is not None, f.tenant is not None)
    base = {"status": f.status, "media_type": f.media_type, "tenant": f.tenant}
    if first is not None and last is not None and first > last:
        rows = _rows_between(shape, low is not None, high is not None, True)
        return [(rows, {**base, "low": low, "high": high})]
    statements = [
        (
            _buckets_between(shape, first is not None, last is not None),
            {**base, "first": first, "last": last},
        )
    ]
    if low is not None and first is not None and low < _start_of(first):
        rows = _rows_between(shape, True, True, False)
        statements.append((rows, {**base, "low": low, "high": _start_of(first)}))
    if high is not None and last is not None:
        rows = _rows_between(shape, True, True, True)
        statements.append(
            (rows, {**base, "low": _start_of(last + timedelta(days=1)), "high": high})
        )
    return statements


async def total(conn: asyncpg.Connection, f: Filters) -> int:
    found = 0
    for statement, values in plan(f):
        found += int(await statement.fetchval(conn, values))
    return found
