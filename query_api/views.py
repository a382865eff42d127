"""Thin SQL over the projection: one function per question the API answers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import ColumnElement, Integer, and_, bindparam, literal_column, or_, select, tuple_

from events import MediaAnalysisError
from infra.database import DRIVER_ERRORS
from query_api import totals
from query_api.compiled import Compiled, compile_for_asyncpg
from query_api.cursor import Cursor
from read_model.tables import analysis_request

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


STATUS_COLUMNS = (
    "id", "status", "progress", "media_type", "source_url", "filename", "prompt",
    "created_at", "updated_at", "completed_at", "result_summary", "results", "error_message",
)  # fmt: skip
"""What a status answer shows: not the settings, tenant or processing reference
(each jsonb column is decoded on every read)."""
_BY_ID = f"SELECT {', '.join(STATUS_COLUMNS)} FROM {t.name} WHERE id = $1"  # noqa: S608
_BY_ID_FOR_TENANT = _BY_ID + " AND created_by = $2"


async def analysis_by_id(
    pool: asyncpg.Pool, analysis_id: UUID, tenant: UUID | None = None
) -> dict[str, Any] | None:
    """The row, or None when unknown, or another tenant's (indistinguishable).

    Plain asyncpg, a prepared statement per connection: the hottest read of the
    API (infra.database.create_read_pool says why).
    """
    try:
        async with pool.acquire() as conn:
            if tenant is None:
                row = await conn.fetchrow(_BY_ID, analysis_id)
            else:
                row = await conn.fetchrow(_BY_ID_FOR_TENANT, analysis_id, tenant)
    except DRIVER_ERRORS as exc:
        raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc
    return dict(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class _Shape:
    """What decides a listing's SQL; the values go in as parameters."""

    status: bool
    media_type: bool
    date_from: bool
    date_to: bool
    tenant: bool
    sort_by: str
    order: str
    paging: str
    """'offset', 'after' (rows after a cursor) or 'after_null' (a cursor in the NULL tail)."""


def _shape(q: HistoryQuery) -> _Shape:
    paging = "offset" if q.after is None else "after_null" if q.after.value is None else "after"
    return _Shape(
        q.status is not None,
        q.media_type is not None,
        q.date_from is not None,
        q.date_to is not None,
        q.tenant is not None,
        q.sort_by,
        q.order,
        paging,
    )


def _filters(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if not shape.status:
        # A literal, not a bind parameter: the listing indexes are partial (WHERE
        # status != 'deleted') and PostgreSQL's generic plan for a prepared statement
        # cannot prove a parameter matches, so it fell back to parallel seq scans.
        conditions.append(t.c.status != NOT_DELETED)
    else:
        conditions.append(t.c.status == bindparam("status", type_=t.c.status.type))
    if shape.media_type:
        conditions.append(t.c.media_type == bindparam("media_type", type_=t.c.media_type.type))
    if shape.date_from:
        conditions.append(t.c.created_at >= bindparam("date_from", type_=t.c.created_at.type))
    if shape.date_to:
        conditions.append(t.c.created_at <= bindparam("date_to", type_=t.c.created_at.type))
    if shape.tenant:
        conditions.append(t.c.created_by == bindparam("tenant", type_=t.c.created_by.type))
    return conditions


def _after(shape: _Shape) -> ColumnElement[bool]:
    """Rows strictly after the cursor's in the order (sort column, id), NULLs last."""
    column = t.c[shape.sort_by]
    last_id = bindparam("after_id", type_=t.c.id.type)
    if shape.paging == "after_null":  # only completed_at is nullable: the NULL tail
        beyond_id = t.c.id > last_id if shape.order == "asc" else t.c.id < last_id
        return and_(column.is_(None), beyond_id)
    key = tuple_(column, t.c.id)
    last = tuple_(bindparam("after_value", type_=column.type), last_id)
    beyond = key > last if shape.order == "asc" else key < last
    return or_(beyond, column.is_(None)) if shape.sort_by == "completed_at" else beyond


@functools.lru_cache(maxsize=1024)
def _page_sql(shape: _Shape) -> Compiled:
    """One page as a deferred join: the page's ids first, from the listing's index
    alone (an index-only scan when the pages are all-visible), then those rows.

    Asked for whole rows, PostgreSQL costed the heap fetches of the filtered
    (status, media_type, created_at, id) index as random I/O and walked the
    created_at index instead, filtering out 24 rows in 25: page 400 of
    completed videos took 75 ms of its CPU on 1M rows (5.7 ms as a deferred join),
    which is what made the filtered history time out under load.
    """

    # NULLS LAST only where NULLs exist (completed_at): on a NOT NULL column it
    # changes nothing but stops PostgreSQL from reading the index backwards for
    # DESC, which turned page 1 of a million rows into a 285 ms sort.
    def order(table: Any) -> list[ColumnElement[Any]]:
        column = table.c[shape.sort_by]
        ordering = column.asc() if shape.order == "asc" else column.desc()
        tie_break = table.c.id.asc() if shape.order == "asc" else table.c.id.desc()
        return [ordering.nulls_last() if shape.sort_by == "completed_at" else ordering, tie_break]

    conditions = _filters(shape)
    if shape.paging != "offset":
        conditions.append(_after(shape))
    ids = (
        select(t.c.id)
        .where(and_(*conditions))
        .order_by(*order(t))
        .limit(bindparam("limit", type_=Integer))
    )
    if shape.paging == "offset":
        ids = ids.offset(bindparam("offset", type_=Integer))
    page = ids.subquery("page")
    statement = (
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
        .join_from(t, page, t.c.id == page.c.id)
        .order_by(*order(t))
    )
    return compile_for_asyncpg(statement)


def _page_values(q: HistoryQuery) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": q.status,
        "media_type": q.media_type,
        "date_from": q.date_from,
        "date_to": q.date_to,
        "tenant": q.tenant,
        "limit": q.per_page + 1,  # one more tells whether a next page exists
        "offset": (q.page - 1) * q.per_page,
    }
    if q.after is not None:
        values["after_id"] = q.after.last_id
        values["after_value"] = q.after.value
    return values


async def history(pool: asyncpg.Pool, q: HistoryQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of analyses (``per_page`` + 1 rows when a next page exists) and
    the total number matching the filters."""
    filters = totals.Filters(q.status, q.media_type, q.tenant, q.date_from, q.date_to)
    try:
        async with pool.acquire() as conn:
            rows = await _page_sql(_shape(q)).fetch(conn, _page_values(q))
            total = await totals.total(conn, filters)
    except DRIVER_ERRORS as exc:
        raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc
    return [dict(r) for r in rows], total
