"""Thin SQL over the projection: one function per question the API answers.

Literal SQL on asyncpg (``infra.database.create_pool``): a listing's SQL is put
together from fixed fragments and whitelisted column names, its values always
travel as ``$n`` parameters, and asyncpg prepares each distinct text once per
connection and keeps it (a listing has few shapes: which filters are present,
the sort, the paging mode; each shape's text is built once).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from infra.database import DRIVER_ERRORS, Statement
from query_api import totals
from query_api.cursor import Cursor
from read_model.errors import ReadModelUnavailable as ReadModelUnavailable
from read_model.status import TABLE as TABLE
from read_model.status import analysis_by_id as analysis_by_id

NOT_DELETED = "status != 'deleted'"
LIST_COLUMNS = "id, status, media_type, prompt, progress, created_at, updated_at, completed_at"
"""What a history item shows."""


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
    if q.sort_by not in SORT_COLUMNS or q.order not in ("asc", "desc"):
        raise ValueError(f"cannot sort by {q.sort_by} {q.order}")  # the API validated both
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


SORT_COLUMNS = {
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "completed_at": "timestamptz",
    "status": "varchar",
    "media_type": "varchar",
    "progress": "integer",
}
"""The columns a listing may sort by, with the type of their cursor value: the
only identifiers that reach the SQL from a request."""


class _Parameters:
    """Numbers the placeholders of a statement as its fragments are written."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, name: str, cast: str) -> str:
        self.names.append(name)
        return f"${len(self.names)}::{cast}"


def _filters(shape: _Shape, param: _Parameters) -> list[str]:
    # Not deleted as a literal, not a parameter: the listing indexes are partial
    # (WHERE status != 'deleted') and PostgreSQL's generic plan for a prepared
    # statement cannot prove a parameter matches, so it fell back to seq scans.
    where = [f"status = {param('status', 'varchar')}" if shape.status else NOT_DELETED]
    if shape.media_type:
        where.append(f"media_type = {param('media_type', 'varchar')}")
    if shape.date_from:
        where.append(f"created_at >= {param('date_from', 'timestamptz')}")
    if shape.date_to:
        where.append(f"created_at <= {param('date_to', 'timestamptz')}")
    if shape.tenant:
        where.append(f"created_by = {param('tenant', 'uuid')}")
    return where


def _after(shape: _Shape, param: _Parameters) -> str:
    """Rows strictly after the cursor's in the order (sort column, id), NULLs last."""
    column, beyond = shape.sort_by, ">" if shape.order == "asc" else "<"
    if shape.paging == "after_null":  # only completed_at is nullable: the NULL tail
        return f"{column} IS NULL AND id {beyond} {param('after_id', 'uuid')}"
    last = f"({param('after_value', SORT_COLUMNS[column])}, {param('after_id', 'uuid')})"
    after = f"({column}, id) {beyond} {last}"
    return f"({after} OR {column} IS NULL)" if column == "completed_at" else after


@functools.lru_cache(maxsize=1024)
def _page_sql(shape: _Shape) -> Statement:
    """One page as a deferred join: the page's ids first, from the listing's index
    alone (an index-only scan when the pages are all-visible), then those rows.

    Asked for whole rows, PostgreSQL costed the heap fetches of the filtered
    (status, media_type, created_at, id) index as random I/O and walked the
    created_at index instead, filtering out most of the rows it read.
    """
    param = _Parameters()
    where = _filters(shape, param)
    if shape.paging != "offset":
        where.append(_after(shape, param))
    direction = shape.order.upper()
    # NULLS LAST only where NULLs exist (completed_at): on a NOT NULL column it
    # changes nothing but stops PostgreSQL from reading the index backwards for
    # DESC, and page 1 became a sort of the whole table.
    nulls = " NULLS LAST" if shape.sort_by == "completed_at" else ""
    order = f"{shape.sort_by} {direction}{nulls}, id {direction}"
    paging = f"LIMIT {param('limit', 'integer')}"
    if shape.paging == "offset":
        paging += f" OFFSET {param('offset', 'integer')}"
    sql = (
        f"SELECT {LIST_COLUMNS} FROM {TABLE} JOIN ("  # noqa: S608 (whitelisted identifiers)
        f"SELECT id AS page_id FROM {TABLE} WHERE {' AND '.join(where)} "
        f"ORDER BY {order} {paging}) AS page ON id = page.page_id ORDER BY {order}"
    )
    return Statement(sql, tuple(param.names))


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
            page = _page_sql(_shape(q))
            rows = await conn.fetch(page.sql, *page.args(_page_values(q)))
            total = await totals.total(conn, filters)
    except DRIVER_ERRORS as exc:
        raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc
    return [dict(r) for r in rows], total
