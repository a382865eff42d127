"""Query parameters and response bodies of the query side."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from events import MediaType
from read_model.status import EXAMPLE_ID, Status

SortField = Literal["created_at", "updated_at", "completed_at", "status", "media_type", "progress"]
SortOrder = Literal["asc", "desc"]
StatusFilter = Literal["all", "pending", "processing", "completed", "failed", "deleted"]
MediaTypeFilter = Literal["all", "video", "audio", "document", "image", "unknown"]
ALL: Literal["all"] = "all"
"""The filters' value for "no filter" (the PRD's default)."""

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


_ITEM: dict[str, JsonValue] = {
    "analysis_id": EXAMPLE_ID,
    "status": "completed",
    "media_type": "video",
    "prompt": "What is happening in this video?",
    "progress": 100,
    "created_at": "2026-01-20T10:00:00Z",
    "updated_at": "2026-01-20T10:00:30Z",
    "completed_at": "2026-01-20T10:00:30Z",
}


class AnalysisListItem(BaseModel):
    """One analysis in the history."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ITEM]})

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": [_ITEM],
                    "pagination": {
                        "page": 1,
                        "per_page": 20,
                        "total": 100,
                        "total_pages": 5,
                        "next_cursor": "WyJjcmVhdGVkX2F0IiwiZGVzYyIsIjIwMjYtMDEtMjBUMTA6MDA6MDBa"
                        "IiwiNTUwZTg0MDAtZTI5Yi00MWQ0LWE3MTYtNDQ2NjU1NDQwMDAwIiwyXQ==",
                    },
                }
            ]
        }
    )

    data: list[AnalysisListItem]
    pagination: Pagination


class HistoryParams(BaseModel):
    """The history listing's query parameters, validated as one model (cheaper
    than resolving ten separate parameters). Unknown parameters are ignored."""

    page: int | None = Field(
        default=None, ge=1, le=1_000_000, description="1-based page number (default 1)."
    )
    per_page: int = Field(default=20, ge=1, le=100, description="Items per page.")
    status: StatusFilter = Field(
        default=ALL,
        description="Only this status; `deleted` lists deleted ones; `all` (the default) "
        "every status but `deleted`.",
    )
    media_type: MediaTypeFilter = Field(
        default=ALL, description="Only this media type; `all` (the default) every type."
    )
    date_from: datetime | None = Field(
        default=None, description="Created at or after (ISO 8601; UTC if no zone)."
    )
    date_to: datetime | None = Field(
        default=None,
        description="Created at or before (ISO 8601; UTC if no zone). A date without a "
        "time (`2026-01-20`) includes that whole day.",
    )
    sort_by: SortField = "created_at"
    order: SortOrder = "desc"
    cursor: str | None = Field(
        default=None,
        max_length=1000,
        description="`pagination.next_cursor` of the previous page: keyset paging, "
        "as fast on page 50 000 as on page 1. Not combinable with `page`.",
    )

    @field_validator("date_to", mode="before")
    @classmethod
    def _whole_day(cls, value: Any) -> Any:
        """A date-only upper bound means the end of that day (UTC), as people read it;
        the last microsecond is exact because ``created_at`` keeps microseconds."""
        if isinstance(value, str) and _DATE_ONLY.fullmatch(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                return value  # datetime parsing names what is wrong with it
            return datetime.combine(day, time.max, tzinfo=UTC)
        return value
