"""One analysis as its status shows it: the response model, the columns it reads
and the row-to-model mapping, shared by the status endpoint, its live stream and
the webhook notifier so that all three send the same body."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from events import MediaType
from infra.database import DRIVER_ERRORS
from read_model.errors import ReadModelUnavailable

Status = Literal["pending", "processing", "completed", "failed", "deleted"]
TABLE = "analysis_request"

EXAMPLE_ID = "550e8400-e29b-41d4-a716-446655440000"


class ResultSummary(BaseModel):
    summary: str | None = None
    topics: list[str] = Field(default_factory=list)


_EXAMPLE: dict[str, JsonValue] = {
    "analysis_id": EXAMPLE_ID,
    "status": "completed",
    "progress": 100,
    "media_type": "video",
    "source_url": "https://example.com/video.mp4",
    "filename": "video.mp4",
    "prompt": "What is happening in this video?",
    "created_at": "2026-01-20T10:00:00Z",
    "updated_at": "2026-01-20T10:00:30Z",
    "completed_at": "2026-01-20T10:00:30Z",
    "result_summary": {
        "summary": "Video shows a person speaking about AI",
        "topics": ["AI", "Technology", "Future"],
    },
    "results": {"probe": {"duration": 30.0, "format": "mov,mp4,m4a,3gp,3g2,mj2"}},
    "error_message": None,
}


class AnalysisStatus(BaseModel):
    """Everything known about one analysis."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    analysis_id: UUID
    status: Status
    progress: int = Field(ge=0, le=100)
    media_type: MediaType
    source_url: str
    filename: str | None
    prompt: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    result_summary: ResultSummary | None
    results: dict[str, Any]
    error_message: str | None


STATUS_COLUMNS = (
    "id", "status", "progress", "media_type", "source_url", "filename", "prompt",
    "created_at", "updated_at", "completed_at", "result_summary", "results", "error_message",
)  # fmt: skip
"""What a status shows: not the settings, tenant or processing reference (each
jsonb column is decoded on every read)."""
_BY_ID = f"SELECT {', '.join(STATUS_COLUMNS)} FROM {TABLE} WHERE id = $1"  # noqa: S608
_BY_ID_FOR_TENANT = _BY_ID + " AND created_by = $2"


def status_from_row(row: dict[str, Any]) -> AnalysisStatus:
    """The status body of a row read with :data:`STATUS_COLUMNS`."""
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


async def analysis_by_id(
    pool: asyncpg.Pool, analysis_id: UUID, tenant: UUID | None = None
) -> dict[str, Any] | None:
    """The row, or None when unknown, or another tenant's (indistinguishable).

    Plain asyncpg, a prepared statement per connection: the hottest read of the
    API (infra.database.create_pool says why).
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
