"""The projector's fold: DESIGN.md's state machine, as given events / then state."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from events import (
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    new_envelope,
)
from read_model import fold as analysis_fold
from read_model.fold import AnalysisState, apply

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fold(*events: AnalysisEvent) -> AnalysisState | None:
    state: AnalysisState | None = None
    for i, event in enumerate(events):
        state = apply(state, new_envelope(event, source="/t", time=T0 + timedelta(seconds=i)))
    return state


ID = uuid4()
REQUESTED = AnalysisRequested(
    analysis_id=ID, prompt="p", media_url="https://e.com/x", media_type="audio"
)
STARTED = AnalysisStarted(analysis_id=ID, processor="p1", attempt=1)


def progressed(p: int) -> AnalysisProgressed:
    return AnalysisProgressed(analysis_id=ID, stage="s", stage_status="completed", progress=p)


COMPLETED = AnalysisCompleted(analysis_id=ID, results={"probe": {"duration": 3.0}}, summary="s")
FAILED = AnalysisFailed(analysis_id=ID, error_code="x", error_message="boom", retryable=False)


def test_a_request_creates_a_pending_row_stamped_with_the_event_time() -> None:
    state = fold(REQUESTED)
    assert state is not None
    assert (state.status, state.progress, state.prompt) == ("pending", 0, "p")
    assert state.created_at == state.updated_at == T0


def test_the_happy_path_ends_completed_at_100_with_results() -> None:
    state = fold(REQUESTED, STARTED, progressed(40), COMPLETED)
    assert state is not None
    assert (state.status, state.progress) == ("completed", 100)
    assert state.results == {"probe": {"duration": 3.0}}
    assert state.result_summary == {"summary": "s", "topics": []}
    assert state.celery_task_id == "p1#1"
    assert state.completed_at == T0 + timedelta(seconds=3)


def test_progress_never_decreases() -> None:
    state = fold(REQUESTED, STARTED, progressed(60), progressed(30))
    assert state is not None
    assert state.progress == 60


def test_a_terminal_analysis_is_not_reopened_by_late_events() -> None:
    after_complete = fold(REQUESTED, STARTED, COMPLETED, progressed(10), FAILED, STARTED)
    assert after_complete is not None
    assert after_complete.status == "completed"
    after_fail = fold(REQUESTED, FAILED, COMPLETED)
    assert after_fail is not None
    assert after_fail.status == "failed"
    assert after_fail.error_message == "x: boom"


def test_deleted_is_terminal_from_any_state() -> None:
    for prefix in ((), (STARTED,), (STARTED, COMPLETED), (FAILED,)):
        state = fold(REQUESTED, *prefix, AnalysisDeleted(analysis_id=ID), COMPLETED)
        assert state is not None
        assert state.status == "deleted"


def test_a_duplicate_request_changes_nothing() -> None:
    first = fold(REQUESTED)
    assert apply(first, new_envelope(REQUESTED, source="/t")) is first


def test_events_of_an_unknown_analysis_are_ignored() -> None:
    assert fold(STARTED, COMPLETED) is None


def test_the_folds_replace_changes_only_the_fields_named_and_refuses_unknown_ones() -> None:
    state = fold(REQUESTED, STARTED)
    assert state is not None
    changed = analysis_fold.replace(state, progress=30, error_message="e")
    assert changed == dataclasses.replace(state, progress=30, error_message="e")
    assert changed is not state
    assert state.progress == 0
    with pytest.raises(TypeError, match="progres"):
        analysis_fold.replace(state, progres=30)
