"""The event contract: envelope round trip over Kafka records, and clear errors."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from events import (
    AnalysisProgressed,
    AnalysisRequested,
    EventDecodeError,
    MissingAttribute,
    UnknownEventType,
    UnsupportedVersion,
    caused_by,
    decode,
    encode,
    new_envelope,
)


def _requested() -> AnalysisRequested:
    return AnalysisRequested(
        analysis_id=uuid4(),
        prompt="What is in it?",
        media_url="https://example.com/a.mp4",
        media_type="video",
        options={"extract_frames": True},
    )


def test_an_event_survives_the_round_trip_through_a_kafka_record() -> None:
    envelope = new_envelope(_requested(), source="/test")
    record = encode(envelope)
    assert record.key == str(envelope.analysis_id).encode()
    headers = record.header_dict()
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "media-analysis.analysis.requested"
    assert headers["ce_subject"] == str(envelope.analysis_id)
    assert headers["ce_schemaversion"] == "1"
    assert headers["content-type"] == "application/json"
    assert json.loads(record.value)["prompt"] == "What is in it?"
    assert decode(record.value, record.headers) == envelope


def test_a_caused_event_keeps_the_correlation_and_names_its_cause() -> None:
    request = new_envelope(_requested(), source="/test")
    progressed = caused_by(
        request,
        AnalysisProgressed(
            analysis_id=request.analysis_id, stage="probe", stage_status="completed", progress=50
        ),
        source="/processor",
    )
    assert progressed.correlation_id == request.correlation_id == request.id
    assert progressed.causation_id == request.id
    assert decode(*_parts(progressed)) == progressed


def _parts(envelope: object) -> tuple[bytes, tuple[tuple[str, bytes], ...]]:
    record = encode(envelope)  # type: ignore[arg-type]
    return record.value, record.headers


def test_events_are_immutable_and_refuse_unknown_fields() -> None:
    event = _requested()
    with pytest.raises(ValueError, match="frozen"):
        event.prompt = "changed"  # type: ignore[misc]
    with pytest.raises(ValueError, match="extra"):
        AnalysisRequested.model_validate({**event.model_dump(), "surprise": 1})


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda h, v: ({k: x for k, x in h.items() if k != "ce_id"}, v), MissingAttribute),
        (lambda h, v: ({**h, "ce_type": b"something.else"}, v), UnknownEventType),
        (lambda h, v: ({**h, "ce_schemaversion": b"99"}, v), UnsupportedVersion),
        (lambda h, v: (h, b"{not json"), EventDecodeError),
        (lambda h, v: (h, b'{"analysis_id": "not-a-uuid"}'), EventDecodeError),
        (lambda h, v: ({**h, "ce_specversion": b"0.3"}, v), EventDecodeError),
    ],
    ids=["missing-id", "unknown-type", "future-version", "not-json", "bad-data", "old-spec"],
)
def test_unreadable_records_raise_a_decode_error_naming_the_reason(mutate, error) -> None:  # type: ignore[no-untyped-def]
    record = encode(new_envelope(_requested(), source="/test"))
    headers, value = mutate(dict(record.headers), record.value)
    with pytest.raises(error):
        decode(value, list(headers.items()))
