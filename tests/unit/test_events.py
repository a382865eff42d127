"""The event contract: envelope round trip over Kafka records, and clear errors."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from events import (
    AnalysisDeleted,
    AnalysisProgressed,
    AnalysisRequested,
    EventDecodeError,
    MissingAttribute,
    UnknownEventType,
    UnsupportedVersion,
    caused_by,
    decode,
    decode_with_json,
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


def test_a_current_complete_record_value_is_kept_as_the_datas_json() -> None:
    envelope = new_envelope(_requested(), source="/test")
    record = encode(envelope)
    decoded = decode_with_json(record.value, record.headers)
    assert decoded.envelope == envelope
    assert decoded.data_json == record.value.decode()  # the value itself, not serialised again


def test_a_value_without_its_defaults_gets_them_in_the_datas_json() -> None:
    envelope = new_envelope(_requested(), source="/test")
    record = encode(envelope)
    sparse = {k: v for k, v in json.loads(record.value).items() if k not in ("filename", "config")}
    decoded = decode_with_json(json.dumps(sparse).encode(), record.headers)
    assert decoded.envelope == decode(json.dumps(sparse).encode(), record.headers)
    assert json.loads(decoded.data_json) == envelope.data.model_dump(mode="json")
    assert {"filename", "config"} <= json.loads(decoded.data_json).keys()


def test_an_upcast_records_json_is_its_current_version() -> None:
    envelope = new_envelope(AnalysisDeleted(analysis_id=uuid4(), note="gone"), source="/test")
    record = encode(envelope)
    headers = [(k, b"1" if k == "ce_schemaversion" else v) for k, v in record.headers]
    v1 = json.dumps({"analysis_id": str(envelope.analysis_id), "reason": "gone"}).encode()
    decoded = decode_with_json(v1, headers)
    assert json.loads(decoded.data_json) == {
        "analysis_id": str(envelope.analysis_id),
        "initiator": "client",
        "note": "gone",
    }
    assert decoded.envelope.data == envelope.data


@pytest.mark.parametrize(
    "value",
    [b"{not json", b"[1, 2]", b'{"analysis_id": "not-a-uuid"}', b"\xff\xfe"],
    ids=["not-json", "not-an-object", "bad-data", "not-utf8"],
)
def test_decoding_with_json_refuses_what_decode_refuses_with_the_same_reason(
    value: bytes,
) -> None:
    record = encode(new_envelope(_requested(), source="/test"))
    with pytest.raises(EventDecodeError) as plain:
        decode(value, record.headers)
    with pytest.raises(EventDecodeError) as with_json:
        decode_with_json(value, record.headers)
    assert str(with_json.value) == str(plain.value)
    assert type(with_json.value) is type(plain.value)


def test_a_value_that_needed_coercion_is_stored_in_its_coerced_form() -> None:
    envelope = new_envelope(
        AnalysisProgressed(
            analysis_id=uuid4(), stage="probe", stage_status="completed", progress=50
        ),
        source="/test",
    )
    record = encode(envelope)
    loose = json.loads(record.value) | {"progress": "50"}  # a string where a number belongs
    decoded = decode_with_json(json.dumps(loose).encode(), record.headers)
    assert decoded.envelope == envelope
    assert json.loads(decoded.data_json)["progress"] == 50


def test_an_event_without_trace_context_has_no_tracing_headers() -> None:
    record = encode(new_envelope(_requested(), source="/test"))
    assert not [k for k, _ in record.headers if k.startswith("ce_trace")]


def test_the_trace_context_travels_as_the_cloudevents_tracing_extension() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    envelope = new_envelope(_requested(), source="/test").model_copy(
        update={"traceparent": traceparent, "tracestate": "vendor=1"}
    )
    record = encode(envelope)
    headers = record.header_dict()
    assert headers["ce_traceparent"] == traceparent
    assert headers["ce_tracestate"] == "vendor=1"
    assert decode(record.value, record.headers) == envelope
