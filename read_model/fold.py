"""The pure fold of an analysis's events into its read-model row.

Shared by the projector (which writes the rows) and the query side's audit
endpoint (which folds an analysis's stored events as of a moment); it depends on
the event contract only.

``apply(state, envelope)`` returns the new state, or the same object when the
event changes nothing. Rules (DESIGN.md, "The read model"):

- pending → processing → completed | failed; deleted is terminal from any state;
- progress never decreases;
- a completed or failed analysis is not reopened by a late or duplicate event;
- every timestamp comes from the events, so a replay yields the same table;
- a deleted analysis keeps no client content (``erased``): the events stay in
  the log, the read side forgets what they said.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

from events import (
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
)

TERMINAL = frozenset({"completed", "failed", "deleted"})


@dataclass(frozen=True, slots=True)
class AnalysisState:
    """One analysis_request row."""

    id: UUID
    status: str
    media_type: str
    source_url: str
    filename: str | None
    prompt: str | None
    analysis_config: dict[str, Any]
    analysis_options: dict[str, Any]
    results: dict[str, Any]
    result_summary: dict[str, Any] | None
    progress: int
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    deleted_at: datetime | None
    created_by: UUID | None
    celery_task_id: str | None

    def as_row(self) -> dict[str, Any]:
        return dict(zip(_FIELDS, _values(self), strict=True))

    @classmethod
    def from_row(cls, row: Any) -> AnalysisState:
        """The state an ``analysis_request`` row holds: any mapping of its column
        names to values, JSON columns decoded."""
        state = {name: row[name] for name in _FIELDS}
        for name in _JSON_OBJECTS:
            state[name] = state[name] or {}
        return cls(**state)


_FIELDS = tuple(f.name for f in fields(AnalysisState))
_values = attrgetter(*_FIELDS)
_JSON_OBJECTS = ("analysis_config", "analysis_options", "results")
"""Columns that may be NULL in a row and are ``{}`` in a state."""


def replace(state: AnalysisState, **changes: Any) -> AnalysisState:
    """``dataclasses.replace`` for the fold, which makes one state per event: the
    values are gathered in C, a replay's hottest call."""
    state = AnalysisState(*map(changes.pop, _FIELDS, _values(state)))
    if changes:
        raise TypeError(f"AnalysisState has no field {sorted(changes)}")
    return state


def erased(state: AnalysisState) -> AnalysisState:
    """``state`` without the client's content: prompt, media URL, file name, settings,
    results and error text. Ids, status, media type and timestamps stay, so the
    row still says that an analysis existed and when it was deleted."""
    return replace(
        state,
        prompt=None,
        source_url="",
        filename=None,
        analysis_config={},
        analysis_options={},
        results={},
        result_summary=None,
        error_message=None,
    )


def apply(state: AnalysisState | None, envelope: Envelope) -> AnalysisState | None:
    """Fold one event into the state of its analysis."""
    event = envelope.data
    at = envelope.time
    if isinstance(event, AnalysisRequested):
        if state is not None:
            return state
        return AnalysisState(
            id=event.analysis_id,
            status="pending",
            media_type=event.media_type,
            source_url=event.media_url,
            filename=event.filename,
            prompt=event.prompt,
            analysis_config=dict(event.config),
            analysis_options=dict(event.options),
            results={},
            result_summary=None,
            progress=0,
            error_message=None,
            created_at=at,
            updated_at=at,
            completed_at=None,
            deleted_at=None,
            created_by=event.created_by,
            celery_task_id=None,
        )
    if state is None:
        return None  # nothing to fold into: the request was never seen
    if isinstance(event, AnalysisDeleted):
        if state.status == "deleted":
            return state
        return erased(replace(state, status="deleted", deleted_at=at, updated_at=at))
    if state.status in TERMINAL:
        return state
    if isinstance(event, AnalysisStarted):
        return replace(
            state,
            status="processing",
            celery_task_id=f"{event.processor}#{event.attempt}",
            updated_at=at,
        )
    if isinstance(event, AnalysisProgressed):
        return replace(
            state,
            status="processing",
            progress=max(state.progress, event.progress),
            updated_at=at,
        )
    if isinstance(event, AnalysisCompleted):
        return replace(
            state,
            status="completed",
            progress=100,
            results=dict(event.results),
            result_summary={"summary": event.summary, "topics": list(event.topics)},
            completed_at=at,
            updated_at=at,
        )
    if isinstance(event, AnalysisFailed):
        return replace(
            state,
            status="failed",
            error_message=f"{event.error_code}: {event.error_message}",
            completed_at=at,
            updated_at=at,
        )
    return state
