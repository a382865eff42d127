"""infra.tracing: nothing at all while off; with a tracer, the context of the
span that produced an event is what its consumer continues."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from events import AnalysisDeleted, decode, encode, new_envelope
from infra import tracing
from infra.settings import Settings


def _envelope():  # type: ignore[no-untyped-def]
    return new_envelope(AnalysisDeleted(analysis_id=uuid4()), source="/test")


def test_tracing_is_off_without_an_endpoint_and_when_the_sdk_is_disabled() -> None:
    assert not Settings(_env_file=None).tracing_enabled  # type: ignore[call-arg]
    on = {"otel_exporter_otlp_endpoint": "http://127.0.0.1:4318"}
    assert Settings(_env_file=None, **on).tracing_enabled  # type: ignore[call-arg, arg-type]
    assert not Settings(_env_file=None, otel_sdk_disabled=True, **on).tracing_enabled  # type: ignore[call-arg, arg-type]
    assert not tracing.configure_tracing(Settings(_env_file=None), "test")  # type: ignore[call-arg]


def test_while_off_events_are_untouched_and_no_span_is_made() -> None:
    envelope = _envelope()
    assert tracing.stamped(envelope) is envelope
    with tracing.span("anything") as span:
        assert span is None
    traced = envelope.model_copy(
        update={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    )
    assert tracing.event_context(traced) is None


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A tracer of a provider of this test's own (the global one stays unset)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def test_a_consumer_span_continues_the_trace_of_the_span_that_produced_the_event(
    exported: InMemorySpanExporter,
) -> None:
    with tracing.span("produce") as producing:
        assert producing is not None
        record = encode(tracing.stamped(_envelope()))
    consumed = decode(record.value, record.headers)
    assert consumed.traceparent is not None
    with tracing.span("consume", context=tracing.event_context(consumed)):
        pass
    assert tracing.headers_context(record.headers) is not None
    assert tracing.record_spans("apply", [consumed, _envelope()], 1, 2) == 1
    produce, consume, apply = exported.get_finished_spans()
    assert consume.parent is not None
    assert apply.parent is not None
    assert consume.parent.span_id == apply.parent.span_id == produce.context.span_id
    assert {s.context.trace_id for s in (produce, consume, apply)} == {produce.context.trace_id}
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_an_unreadable_traceparent_starts_no_trace_and_breaks_nothing(
    exported: InMemorySpanExporter,
) -> None:
    envelope = _envelope().model_copy(update={"traceparent": "not-a-traceparent"})
    assert tracing.event_context(envelope) is None
    assert tracing.record_spans("apply", [envelope], 1, 2) == 0
