"""HTTP entrypoint of the query side; the only place that picks status codes."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from events import MEDIA_TYPES, MediaType
from query_api import views
from query_api.bootstrap import QueryContext
from query_api.schemas import (
    AnalysesPublic,
    AnalysisListItem,
    AnalysisStatus,
    Pagination,
    ResultSummary,
    SortField,
    SortOrder,
    Status,
)

router = APIRouter(prefix="/api/media", tags=["queries"])


def get_context(request: Request) -> QueryContext:
    context: QueryContext = request.app.state.query
    return context


ContextDep = Annotated[QueryContext, Depends(get_context)]


def _parse_id(analysis_id: str) -> UUID:
    try:
        return UUID(analysis_id)
    except ValueError:
        raise HTTPException(400, f"'{analysis_id}' is not a valid analysis id (UUID).") from None


def _status_body(row: dict[str, Any]) -> AnalysisStatus:
    summary = row.get("result_summary")
    return AnalysisStatus(
        analysis_id=row["id"],
        status=row["status"],
        progress=row["progress"],
        media_type=row["media_type"],
        source_url=row["source_url"],
        filename=row["filename"],
        prompt=row["prompt"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
        result_summary=ResultSummary.model_validate(summary) if summary else None,
        results=row["results"] or {},
        error_message=row["error_message"],
    )


@router.get(
    "/status/{analysis_id}",
    response_model=AnalysisStatus,
    summary="Status, progress and results of one analysis",
    responses={
        400: {"description": "Malformed UUID."},
        404: {"description": "Unknown analysis."},
        410: {"description": "The analysis was deleted."},
        503: {"description": "PostgreSQL unavailable."},
    },
)
async def status(analysis_id: str, ctx: ContextDep) -> AnalysisStatus:
    uid = _parse_id(analysis_id)
    try:
        row = await views.analysis_by_id(ctx.engine, uid)
    except views.ReadModelUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    if row is None:
        raise HTTPException(404, f"No analysis with id {uid}.")
    if row["status"] == "deleted":
        raise HTTPException(410, f"Analysis {uid} has been deleted.")
    return _status_body(row)


@router.get(
    "/history",
    response_model=AnalysesPublic,
    summary="Analyses, newest first, with filters and pages",
    responses={
        400: {"description": "Invalid parameter; `detail` names it."},
        503: {"description": "PostgreSQL unavailable."},
    },
)
async def history(
    ctx: ContextDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    status: Status | None = None,
    media_type: MediaType | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    sort_by: SortField = "created_at",
    order: SortOrder = "desc",
) -> AnalysesPublic:
    if date_from and date_to and date_from > date_to:
        raise HTTPException(400, "date_from must not be after date_to.")
    assert media_type is None or media_type in MEDIA_TYPES
    query = views.HistoryQuery(
        page=page,
        per_page=per_page,
        status=status,
        media_type=media_type,
        date_from=date_from,
        date_to=date_to,
        sort_by=sort_by,
        order=order,
    )
    try:
        rows, total = await views.history(ctx.engine, query)
    except views.ReadModelUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    return AnalysesPublic(
        data=[
            AnalysisListItem(
                analysis_id=r["id"],
                status=r["status"],
                media_type=r["media_type"],
                prompt=r["prompt"],
                progress=r["progress"],
                created_at=r["created_at"],
                completed_at=r["completed_at"],
            )
            for r in rows
        ],
        pagination=Pagination(
            page=page,
            per_page=per_page,
            total=total,
            total_pages=math.ceil(total / per_page) if total else 0,
        ),
    )
