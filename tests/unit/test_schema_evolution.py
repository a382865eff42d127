"""Stored version-1 events still decode and fold like their version-2 equivalents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from events import (
    AnalysisDeleted,
    AnalysisRequested,
    Envelope,
    UnsupportedVersion,
    decode,
    encode,
    new_envelope,
)
from read_model.fold import AnalysisState, apply

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def stored(name: str) -> Envelope:
    """Decode a fixture as a consumer decodes a Kafka record (headers + value)."""
    record: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    headers = [(k, v.encode()) for k, v in record["headers"].items()]
    return decode(json.dumps(record["value"]).encode(), headers)


def fold(*envelopes: Envelope) -> AnalysisState | None:
    state: AnalysisState | None = None
    for envelope in envelopes:
        state = apply(state, envelope)
    return state


def test_a_v1_deletion_is_upcast_to_v2_with_its_reason_as_the_note() -> None:
    v1, v2 = stored("analysis_deleted_v1.json"), stored("analysis_deleted_v2.json")
    assert v1.schema_version == v2.schema_version == AnalysisDeleted.VERSION == 2
    assert v1.data == v2.data
    assert isinstance(v1.data, AnalysisDeleted)
    assert (v1.data.initiator, v1.data.note) == ("client", "no longer needed")


def test_v1_fixtures_fold_to_the_same_state_as_their_v2_equivalents() -> None:
    requested = stored("analysis_requested_v1.json")
    from_v1 = fold(requested, stored("analysis_deleted_v1.json"))
    from_v2 = fold(requested, stored("analysis_deleted_v2.json"))
    assert from_v1 is not None
    assert from_v1 == from_v2
    assert from_v1.status == "deleted"


def test_a_version_newer_than_the_code_is_refused() -> None:
    record = json.loads((FIXTURES / "analysis_deleted_v2.json").read_text())
    headers = [(k, v.encode()) for k, v in record["headers"].items()]
    headers = [(k, b"3" if k == "ce_schemaversion" else v) for k, v in headers]
    with pytest.raises(UnsupportedVersion):
        decode(json.dumps(record["value"]).encode(), headers)


def test_a_request_stored_before_webhooks_existed_decodes_without_a_webhook() -> None:
    requested = stored("analysis_requested_v1.json").data
    assert isinstance(requested, AnalysisRequested)
    assert requested.webhook_url is None
    assert requested.webhook_events == ["completed", "failed"]


def test_a_request_with_a_webhook_keeps_it_through_the_log() -> None:
    event = AnalysisRequested(
        analysis_id=uuid4(),
        prompt="p",
        media_url="https://media.example/a.mp4",
        media_type="video",
        webhook_url="https://hooks.example/h",
        webhook_events=["progressed", "completed"],
    )
    record = encode(new_envelope(event, source="/test"))
    assert decode(record.value, list(record.headers)).data == event
