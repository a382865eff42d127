"""Thin SQL over the projection: one function per question the API answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import ColumnElement, Select, and_, literal_column, or_, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events import MediaAnalysisError
from media_analysis.read_model import analysis_request
from query_api import totals
from query_api.cursor import Cursor

t = analysis_request
NOT_DELETED: ColumnElement[str] = literal_column("'deleted'")


class ReadModelUnavailable(MediaAnalysisError):
    """PostgreSQL could not answer."""


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    page: int = 1
    per_page: int = 20
    status: str | None = None
    media_type: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    sort_by: str = "created_at"
    order: str = "desc"
    after: Cursor | None = None
    """Keyset mode: rows after this one (``page`` is then ignored)."""
    tenant: UUID | None = None
    """Only analyses created by this tenant (``created_by``); None: all."""


_BY_ID = f"SELECT {', '.join(c.name for c in t.c)} FROM {t.name} WHERE id = $1"  # noqa: S608
_BY_ID_FOR_TENANT = _BY_ID + " AND created_by = $2"


async def analysis_by_id(
    pool: asyncpg.Pool, analysis_id: UUID, tenant: UUID | None = None
) -> dict[str, Any] | None:
    """The row, or None when unknown, or another tenant's (indistinguishable).

    Plain asyncpg, a prepared statement per connection: the hottest read of the
    API (media_analysis.database.create_read_pool says why).
    """
    try:
        async with pool.acquire() as conn:
            if tenant is None:
                row = await conn.fetchrow(_BY_ID, analysis_id)
            else:
                row = await conn.fetchrow(_BY_ID_FOR_TENANT, analysis_id, tenant)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc
    return dict(row) if row is not None else None


def _filters(q: HistoryQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if q.status is None:
        # A literal, not a bind parameter: the listing indexes are partial (WHERE
        # status != 'deleted') and PostgreSQL's generic plan for a prepared statement
        # cannot prove a parameter matches, so it fell back to parallel seq scans.
        conditions.append(t.c.status != NOT_DELETED)
    else:
        conditions.append(t.c.status == q.status)
    if q.media_type is not None:
        conditions.append(t.c.media_type == q.media_type)
    if q.date_from is not None:
        conditions.append(t.c.created_at >= q.date_from)
    if q.date_to is not None:
        conditions.append(t.c.created_at <= q.date_to)
    if q.tenant is not None:
        conditions.append(t.c.created_by == q.tenant)
    return conditions


def _after(q: HistoryQuery, after: Cursor) -> ColumnElement[bool]:
    """Rows strictly after ``after`` in the order (sort column, id), NULLs last."""
    column = t.c[q.sort_by]
    if after.value is None:  # only completed_at is nullable: we are in the NULL tail
        beyond_id = t.c.id > after.last_id if q.order == "asc" else t.c.id < after.last_id
        return and_(column.is_(None), beyond_id)
    key, last = tuple_(column, t.c.id), tuple_(after.value, after.last_id)
    beyond = key > last if q.order == "asc" else key < last
    return or_(beyond, column.is_(None)) if q.sort_by == "completed_at" else beyond


def _page_query(q: HistoryQuery) -> Select[Any]:
    # NULLS LAST only where NULLs exist (completed_at): on a NOT NULL column it
    # changes nothing but stops PostgreSQL from reading the index backwards for
    # DESC, which turned page 1 of a million rows into a 285 ms sort.
    column = t.c[q.sort_by]
    ordering = column.asc() if q.order == "asc" else column.desc()
    tie_break = t.c.id.asc() if q.order == "asc" else t.c.id.desc()
    conditions = _filters(q)
    if q.after is not None:
        conditions.append(_after(q, q.after))
    query = (
        select(
            t.c.id,
            t.c.status,
            t.c.media_type,
            t.c.prompt,
            t.c.progress,
            t.c.created_at,
            t.c.updated_at,
            t.c.completed_at,
        )
        .where(and_(*conditions))
        .order_by(ordering.nulls_last() if q.sort_by == "completed_at" else ordering, tie_break)
        .limit(q.per_page + 1)  # one more tells whether a next page exists
    )
    return query if q.after is not None else query.offset((q.page - 1) * q.per_page)


async def history(engine: AsyncEngine, q: HistoryQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of analyses (``per_page`` + 1 rows when a next page exists) and
    the total number matching the filters."""
    filters = totals.Filters(q.status, q.media_type, q.tenant, q.date_from, q.date_to)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(_page_query(q))).mappings().all()
            total = await totals.total(conn, filters)
    except (SQLAlchemyError, OSError) as exc:
        raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc
    return [dict(r) for r in rows], total
