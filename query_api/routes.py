"""HTTP entrypoint of the query side; the only place that picks status codes."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Request, Response

from http_edge.auth import Tenant, tenant_of
from http_edge.ids import ANALYSIS_ID_PARAMETER, AnalysisIdPath, parse_analysis_id
from http_edge.plain_routes import PlainRoute, json_response, query_model
from http_edge.problems import problem_response
from query_api import cursor, stream, views
from query_api.bootstrap import QueryContext
from query_api.deps import ContextDep
from query_api.schemas import (
    ALL,
    AnalysesPublic,
    AnalysisListItem,
    HistoryParams,
    Pagination,
)
from read_model.positions import ProjectionBehind, look_up_with_catch_up
from read_model.status import AnalysisStatus, status_from_row

TAGS = ["queries"]
F = TypeVar("F")

_UNAVAILABLE = problem_response(
    "PostgreSQL unavailable; retry later.",
    "PostgreSQL is unavailable, retry later (connection refused)",
)


def catching_up(analysis_id: UUID, exc: ProjectionBehind) -> HTTPException:
    """503 for a read that found nothing while the projection may still be behind."""
    return HTTPException(
        503,
        f"Cannot tell yet whether analysis {analysis_id} exists: {exc}.",
        headers={"Retry-After": "1"},
    )


async def visible(
    ctx: QueryContext,
    uid: UUID,
    read: Callable[[], Awaitable[F | None]],
    status_of: Callable[[F], str] = lambda row: row["status"],  # type: ignore[index]
) -> F:
    """The analysis as ``read`` finds it (after waiting for the projection when it
    finds nothing), or the status endpoint's 503, 404 or 410."""
    try:
        found = await look_up_with_catch_up(read, ctx.catch_up)
    except views.ReadModelUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    except ProjectionBehind as exc:
        raise catching_up(uid, exc) from exc
    if found is None:
        raise HTTPException(404, f"No analysis with id {uid}.")
    if status_of(found) == "deleted":
        raise HTTPException(410, f"Analysis {uid} has been deleted.")
    return found


async def status(request: Request) -> Response:
    """Everything known about one analysis, straight from the projection."""
    ctx: QueryContext = request.app.state.query
    uid = parse_analysis_id(request.path_params["analysis_id"])
    tenant = await tenant_of(request)
    row = await visible(ctx, uid, lambda: views.analysis_by_id(ctx.pool, uid, tenant))
    return json_response(status_from_row(row))


def _aware(moment: datetime | None) -> datetime | None:
    """Dates without a zone are taken as UTC (the API answers in UTC)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _next_cursor(q: views.HistoryQuery, last: dict[str, Any], page: int) -> str:
    return cursor.encode(cursor.Cursor(q.sort_by, q.order, last[q.sort_by], last["id"], page + 1))


async def history(request: Request) -> Response:
    """List analyses; deleted ones only when `status=deleted` is asked for."""
    ctx: QueryContext = request.app.state.query
    tenant = await tenant_of(request)
    params = query_model(request, HistoryParams)
    page, per_page, sort_by, order = params.page, params.per_page, params.sort_by, params.order
    date_from, date_to = _aware(params.date_from), _aware(params.date_to)
    if date_from and date_to and date_from > date_to:
        raise HTTPException(400, "date_from must not be after date_to.")
    after = None
    if params.cursor is not None:
        if page is not None:
            raise HTTPException(400, "Pass either page or cursor, not both.")
        try:
            after = cursor.decode(params.cursor, sort_by=sort_by, order=order)
        except cursor.InvalidCursor as exc:
            raise HTTPException(400, f"Invalid cursor: {exc}.") from exc
    current = after.page if after is not None else page or 1
    query = views.HistoryQuery(
        page=current,
        per_page=per_page,
        status=None if params.status == ALL else params.status,
        media_type=None if params.media_type == ALL else params.media_type,
        date_from=date_from,
        date_to=date_to,
        sort_by=sort_by,
        order=order,
        after=after,
        tenant=tenant,
    )
    try:
        rows, total = await views.history(ctx.listing_pool, query)
    except views.ReadModelUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    more = len(rows) > per_page
    rows = rows[:per_page]
    page_body = AnalysesPublic(
        data=[
            AnalysisListItem(
                analysis_id=r["id"],
                status=r["status"],
                media_type=r["media_type"],
                prompt=r["prompt"],
                progress=r["progress"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                completed_at=r["completed_at"],
            )
            for r in rows
        ],
        pagination=Pagination(
            page=current,
            per_page=per_page,
            total=total,
            total_pages=math.ceil(total / per_page) if total else 0,
            next_cursor=_next_cursor(query, rows[-1], current) if more else None,
        ),
    )
    return json_response(page_body)


ROUTES = [
    PlainRoute(
        "GET",
        "/api/media/status/{analysis_id}",
        status,
        summary="Status, progress and results of one analysis",
        tags=TAGS,
        response_model=AnalysisStatus,
        parameters=[ANALYSIS_ID_PARAMETER],
        responses={
            400: problem_response("Malformed UUID.", "'12345' is not a valid analysis id (UUID)."),
            404: problem_response(
                "Unknown analysis.", "No analysis with id 550e8400-e29b-41d4-a716-446655440000."
            ),
            410: problem_response(
                "The analysis was deleted.",
                "Analysis 550e8400-e29b-41d4-a716-446655440000 has been deleted.",
            ),
            503: problem_response(
                "PostgreSQL unavailable, or the projection could not be shown to have caught "
                "up with the event log in time (a just-submitted analysis may not show yet).",
                "Cannot tell yet whether analysis 550e8400-e29b-41d4-a716-446655440000 exists: "
                "the projection has not caught up with the event log within 5s.",
            ),
        },
    ),
    PlainRoute(
        "GET",
        "/api/media/history",
        history,
        summary="Analyses, newest first, with filters, pages and a keyset cursor",
        tags=TAGS,
        response_model=AnalysesPublic,
        query=HistoryParams,
        responses={
            400: problem_response(
                "Invalid parameter; `detail` and `errors` name it.",
                "Invalid request: per_page: Input should be less than or equal to 100",
            ),
            503: _UNAVAILABLE,
        },
    ),
]
"""The query side's busiest routes, as plain Starlette routes (http_edge.plain_routes)."""


router = APIRouter(prefix="/api/media", tags=["queries"])
"""The live status streams: plain FastAPI routes (query_api.stream)."""

_STREAM_EXAMPLE = (
    "id: 2-4711\nevent: media-analysis.analysis.progressed\n"
    'data: {"analysis_id": "550e8400-e29b-41d4-a716-446655440000", "status": "processing", '
    '"progress": 40, ...}\n\n: ping\n\n'
)
_STREAM_OK = {
    "description": "A server-sent event stream. Each event: `id` a log position to resume "
    "from with `Last-Event-ID`, `event` the CloudEvents type of the latest event applied "
    "to the analysis, `data` the status JSON exactly as `GET /api/media/status/{id}` shows "
    "it. `: ping` comment lines while idle.",
    "content": {"text/event-stream": {"schema": {"type": "string"}, "example": _STREAM_EXAMPLE}},
}
_TOO_MANY_STREAMS = {"description": "The process holds its most streams (`STREAM_MAX_OPEN`)."}
_LAST_EVENT_ID = Header(
    description="The `id` of the last event received: only later states are sent.",
)


def _admit(ctx: QueryContext) -> None:
    if ctx.streams.full():
        raise HTTPException(
            503,
            f"This server holds its most status streams ({ctx.streams.max_open}); retry later.",
            headers={"Retry-After": "5"},
        )


@router.get(
    "/stream",
    summary="Live status of all the caller's analyses (server-sent events)",
    response_class=Response,
    responses={200: _STREAM_OK, 503: _TOO_MANY_STREAMS},
)
async def stream_all(ctx: ContextDep, tenant: Tenant) -> Response:
    """The caller's in-flight analyses at once, then every change to any of its
    analyses; an `event: resync` means changes may have been missed."""
    _admit(ctx)
    return ctx.streams.response(ctx.streams.follow_all(tenant))


@router.get(
    "/{analysis_id}/stream",
    summary="Live status of one analysis (server-sent events) until it ends",
    response_class=Response,
    responses={
        200: _STREAM_OK,
        204: {"description": "`Last-Event-ID` names the analysis's final state already."},
        400: {"description": "Malformed UUID."},
        404: {"description": "Unknown analysis."},
        410: {"description": "The analysis was deleted."},
        503: {
            "description": "PostgreSQL unavailable, the projection not shown to have caught "
            "up in time, or the process holds its most streams."
        },
    },
)
async def stream_status(
    analysis_id: AnalysisIdPath,
    ctx: ContextDep,
    tenant: Tenant,
    last_event_id: Annotated[str | None, _LAST_EVENT_ID] = None,
) -> Response:
    """The current state at once, then one event per projected change; ends after
    completed, failed or deleted."""
    uid = parse_analysis_id(analysis_id)
    _admit(ctx)
    found = await visible(ctx, uid, lambda: ctx.streams.read(uid, tenant), lambda f: f.status)
    seen = stream.parse_position(last_event_id)
    if found.terminal and seen is not None and not stream.newer(found.position, seen):
        return Response(status_code=204)  # EventSource stops reconnecting on 204
    return ctx.streams.response(ctx.streams.follow_one(uid, seen))
