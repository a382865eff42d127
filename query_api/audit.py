"""The audit trail of one analysis: its events in log order, and its state as of a
moment folded from them (``GET /api/media/{id}/events?as_of=...``).

Reads the ``analysis_event`` rows the projector stores; older schema versions are
upcast on the way, and the fold is the projector's own (``read_model.fold``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, ValidationError

from events import EVENT_CLASSES, AnalysisDeleted, Envelope, EventDecodeError, MediaAnalysisError
from events.upcasting import upcast
from http_edge.auth import Tenant
from http_edge.ids import parse_analysis_id
from infra.database import DRIVER_ERRORS
from query_api import views
from query_api.deps import ContextDep
from query_api.routes import catching_up
from read_model.fold import AnalysisState, apply
from read_model.positions import ProjectionBehind

router = APIRouter(prefix="/api/media", tags=["audit"])


class AuditUnavailable(MediaAnalysisError):
    """The audit trail could not be read."""


class AuditEvent(BaseModel):
    """One event as the log recorded it (CloudEvents attributes and data)."""

    id: str
    type: str
    time: datetime
    schema_version: int
    partition: int
    offset: int
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any]


class StateAsOf(BaseModel):
    """The analysis folded from its events up to ``as_of`` (or all of them)."""

    status: str
    progress: int
    media_type: str
    source_url: str
    filename: str | None
    prompt: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    result_summary: dict[str, Any] | None
    results: dict[str, Any]
    error_message: str | None


class AnalysisEvents(BaseModel):
    analysis_id: UUID
    as_of: datetime | None = Field(description="Only events at or before this time, if given.")
    events: list[AuditEvent]
    state: StateAsOf


_EVENTS_SQL = (
    'SELECT event_id, analysis_id, type, schema_version, time, partition, "offset", '
    "correlation_id, causation_id, data FROM analysis_event "
    'WHERE analysis_id = $1 ORDER BY partition, "offset"'
)


async def _rows(pool: asyncpg.Pool, analysis_id: UUID) -> list[asyncpg.Record]:
    try:
        async with pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(_EVENTS_SQL, analysis_id)
    except DRIVER_ERRORS as exc:
        raise AuditUnavailable(f"the audit trail is unavailable: {exc}") from exc
    return rows


def _envelope(row: asyncpg.Record) -> Envelope:
    cls = EVENT_CLASSES.get(row["type"])
    if cls is None:
        raise EventDecodeError(f"unknown event type {row['type']!r}")
    data = upcast(row["type"], row["schema_version"], cls.VERSION, dict(row["data"]))
    try:
        return Envelope(
            id=row["event_id"],
            source="/media-analysis/audit",  # the audit row does not keep the source
            type=row["type"],
            subject=str(row["analysis_id"]),
            time=row["time"],
            schema_version=cls.VERSION,
            correlation_id=row["correlation_id"] or row["event_id"],
            causation_id=row["causation_id"],
            data=cls.model_validate(data),
        )
    except ValidationError as exc:
        raise EventDecodeError(f"stored {row['type']} does not match its schema: {exc}") from exc


def _state(state: AnalysisState) -> StateAsOf:
    row = state.as_row()
    return StateAsOf.model_validate({k: row[k] for k in StateAsOf.model_fields})


@router.get(
    "/{analysis_id}/events",
    response_model=AnalysisEvents,
    summary="The analysis's events in order, and its state as of a moment",
    responses={
        400: {"description": "Malformed UUID."},
        404: {"description": "Unknown analysis, or none yet at `as_of`."},
        410: {"description": "The analysis was deleted; its content is erased."},
        503: {"description": "PostgreSQL unavailable."},
    },
)
async def analysis_events(
    analysis_id: str,
    ctx: ContextDep,
    tenant: Tenant,
    as_of: Annotated[datetime | None, Query(description="ISO 8601 time with zone")] = None,
) -> AnalysisEvents:
    uid = parse_analysis_id(analysis_id)
    if as_of is not None and as_of.tzinfo is None:
        raise HTTPException(400, "as_of must carry a time zone, e.g. 2026-01-01T12:00:00Z.")
    try:
        rows = await _rows(ctx.pool, uid)
        if not rows:  # perhaps recorded but not projected yet: catch up first
            await ctx.catch_up.wait()
            rows = await _rows(ctx.pool, uid)
        if (
            rows
            and tenant is not None
            and await views.analysis_by_id(ctx.pool, uid, tenant) is None
        ):
            rows = []  # another tenant's analysis: answered like an unknown one
    except (AuditUnavailable, views.ReadModelUnavailable) as exc:
        raise HTTPException(503, str(exc)) from exc
    except ProjectionBehind as exc:
        raise catching_up(uid, exc) from exc
    if not rows:
        raise HTTPException(404, f"No analysis with id {uid}.")
    if any(r["type"] == AnalysisDeleted.TYPE for r in rows):
        raise HTTPException(410, f"Analysis {uid} has been deleted.")
    shown = [r for r in rows if as_of is None or r["time"] <= as_of]
    state: AnalysisState | None = None
    for row in shown:
        state = apply(state, _envelope(row))
    if state is None:
        raise HTTPException(404, f"Analysis {uid} did not exist yet at {as_of}.")
    return AnalysisEvents(
        analysis_id=uid,
        as_of=as_of,
        events=[
            AuditEvent(
                id=r["event_id"],
                type=r["type"],
                time=r["time"],
                schema_version=r["schema_version"],
                partition=r["partition"],
                offset=r["offset"],
                correlation_id=r["correlation_id"],
                causation_id=r["causation_id"],
                data=r["data"],
            )
            for r in shown
        ],
        state=_state(state),
    )
