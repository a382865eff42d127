"""``pagination.total`` of the history listing, from the count projection.

Whole days come from ``analysis_count`` (a sum over a few small rows); the
partial days at the edges of a date filter are counted exactly in
``analysis_request`` over just that part of the day (an index range on
``created_at``). The result equals ``count(*)`` with the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from media_analysis.read_model import analysis_count, analysis_request

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


def _same_filters(table: Any, f: Filters, tenant_column: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        table.c.status != literal_column("'deleted'")  # see views.NOT_DELETED
        if f.status is None
        else table.c.status == f.status
    ]
    if f.media_type is not None:
        conditions.append(table.c.media_type == f.media_type)
    if f.tenant is not None:
        conditions.append(table.c[tenant_column] == f.tenant)
    return conditions


def _rows_between(
    f: Filters, low: datetime | None, high: datetime | None, *, high_inclusive: bool
) -> Select[Any]:
    conditions = _same_filters(t, f, "created_by")
    if low is not None:
        conditions.append(t.c.created_at >= low)
    if high is not None:
        conditions.append(t.c.created_at <= high if high_inclusive else t.c.created_at < high)
    return select(func.count()).select_from(t).where(and_(*conditions))


def _buckets_between(f: Filters, first: date | None, last: date | None) -> Select[Any]:
    conditions = _same_filters(c, f, "tenant")
    if first is not None:
        conditions.append(c.c.day >= first)
    if last is not None:
        conditions.append(c.c.day <= last)
    return select(func.coalesce(func.sum(c.c.n), 0)).where(and_(*conditions))


def plan(f: Filters) -> list[Select[Any]]:
    """The statements whose results add up to the total."""
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
    if first is not None and last is not None and first > last:
        return [_rows_between(f, low, high, high_inclusive=True)]
    statements = [_buckets_between(f, first, last)]
    if low is not None and first is not None and low < _start_of(first):
        statements.append(_rows_between(f, low, _start_of(first), high_inclusive=False))
    if high is not None and last is not None:
        statements.append(
            _rows_between(f, _start_of(last + timedelta(days=1)), high, high_inclusive=True)
        )
    return statements


async def total(conn: AsyncConnection, f: Filters) -> int:
    found = 0
    for statement in plan(f):
        found += int((await conn.execute(statement)).scalar_one())
    return found
