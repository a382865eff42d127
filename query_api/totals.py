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

from infra.database import Statement

NOT_DELETED = "status != 'deleted'"  # a literal, as in views.NOT_DELETED


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


def _same_filters(present: _Present, tenant_column: str) -> tuple[list[str], list[str]]:
    """The filters both tables share, and the names of their values in order."""
    where, names = [NOT_DELETED], []
    if present.status:
        where, names = ["status = $1::varchar"], ["status"]
    if present.media_type:
        names.append("media_type")
        where.append(f"media_type = ${len(names)}::varchar")
    if present.tenant:
        names.append("tenant")
        where.append(f"{tenant_column} = ${len(names)}::uuid")
    return where, names


@functools.lru_cache(maxsize=256)
def _rows_between(present: _Present, low: bool, high: bool, high_inclusive: bool) -> Statement:
    where, names = _same_filters(present, "created_by")
    if low:
        names.append("low")
        where.append(f"created_at >= ${len(names)}::timestamptz")
    if high:
        names.append("high")
        where.append(f"created_at {'<=' if high_inclusive else '<'} ${len(names)}::timestamptz")
    sql = f"SELECT count(*) FROM analysis_request WHERE {' AND '.join(where)}"  # noqa: S608
    return Statement(sql, tuple(names))


@functools.lru_cache(maxsize=256)
def _buckets_between(present: _Present, first: bool, last: bool) -> Statement:
    where, names = _same_filters(present, "tenant")
    if first:
        names.append("first")
        where.append(f"day >= ${len(names)}::date")
    if last:
        names.append("last")
        where.append(f"day <= ${len(names)}::date")
    sql = f"SELECT coalesce(sum(n), 0) FROM analysis_count WHERE {' AND '.join(where)}"  # noqa: S608
    return Statement(sql, tuple(names))


def plan(f: Filters) -> list[tuple[Statement, dict[str, Any]]]:
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
        found += int(await conn.fetchval(statement.sql, *statement.args(values)))
    return found
