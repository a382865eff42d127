"""Response bodies of the query side."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from events import MediaType

Status = Literal["pending", "processing", "completed", "failed", "deleted"]
SortField = Literal["created_at", "updated_at", "completed_at", "status", "media_type", "progress"]
SortOrder = Literal["asc", "desc"]


class ResultSummary(BaseModel):
    summary: str | None = None
    topics: list[str] = Field(default_factory=list)


class AnalysisStatus(BaseModel):
    """Everything known about one analysis."""

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


class AnalysisListItem(BaseModel):
    analysis_id: UUID
    status: Status
    media_type: MediaType
    prompt: str | None
    progress: int = Field(ge=0, le=100)
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class Pagination(BaseModel):
    page: int
    per_page: int
    total: int = Field(description="Analyses matching the filters.")
    total_pages: int
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` (with the same sort_by and order) for the next page; "
        "null on the last page.",
    )


class AnalysesPublic(BaseModel):
    """One page of the history."""

    data: list[AnalysisListItem]
    pagination: Pagination
