"""Deleting an analysis erases the client's content from its folded state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from events import (
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisRequested,
    new_envelope,
)
from read_model.fold import AnalysisState, apply

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fold(*events: AnalysisEvent) -> AnalysisState | None:
    state: AnalysisState | None = None
    for i, event in enumerate(events):
        state = apply(state, new_envelope(event, source="/t", time=T0 + timedelta(seconds=i)))
    return state


def test_given_a_completed_analysis_when_deleted_then_its_content_is_gone_but_not_its_facts() -> (
    None
):
    analysis_id = uuid4()
    state = fold(
        AnalysisRequested(
            analysis_id=analysis_id,
            prompt="secret question",
            media_url="https://example.com/private.mp4",
            media_type="video",
            filename="private.mp4",
            config={"k": 1},
        ),
        AnalysisCompleted(
            analysis_id=analysis_id, results={"probe": {}}, summary="s", topics=["t"]
        ),
        AnalysisDeleted(analysis_id=analysis_id),
    )
    assert state is not None
    assert (state.prompt, state.source_url, state.filename) == (None, "", None)
    assert (state.results, state.result_summary, state.analysis_config) == ({}, None, {})
    assert state.status == "deleted"
    assert state.media_type == "video"
    assert state.created_at == T0
    assert state.deleted_at == T0 + timedelta(seconds=2)
