"""OpenTelemetry tracing across the services, and the trace context in events.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
is set and ``OTEL_SDK_DISABLED`` is not: then :func:`configure_tracing` installs an
SDK tracer provider exporting over OTLP/HTTP in batches; the exporter, the sampler
and the batch processor read the other standard ``OTEL_*`` variables themselves.
While tracing is off every helper here returns at once: no span, no context object,
no header, so events stay byte for byte what they are without tracing.

The context travels in events as the CloudEvents distributed-tracing extension
(``Envelope.traceparent`` / ``tracestate``, the ``ce_traceparent`` /
``ce_tracestate`` headers): :func:`stamped` writes the current span's context into
an envelope before it is produced, :func:`event_context` (an envelope) and
:func:`headers_context` (raw Kafka headers) read it back for a consumer's span.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from events import Envelope
from infra.settings import Settings

log = logging.getLogger(__name__)

_W3C = TraceContextTextMapPropagator()
"""The events' extension is W3C Trace Context whatever ``OTEL_PROPAGATORS`` says."""

_tracer: Tracer | None = None

__all__ = [
    "SpanKind",
    "configure_tracing",
    "enabled",
    "event_context",
    "failed",
    "headers_context",
    "record_spans",
    "span",
    "stamped",
]


def configure_tracing(settings: Settings, service: str) -> bool:
    """Install the tracer provider when the settings ask for tracing; True if so.

    ``service`` names the process (``api``, ``processor``, ``projector``, ``all``, …)
    as ``media-analysis-<service>`` unless ``OTEL_SERVICE_NAME`` names it."""
    global _tracer
    if not settings.tracing_enabled:
        return False
    if _tracer is not None:
        return True
    # Imported only when tracing is on: the SDK and the exporter (protobuf,
    # requests) stay out of every process that does not trace.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = settings.otel_service_name or f"media-analysis-{service}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    # The endpoint from Settings (which also reads .env); the rest from OTEL_* itself.
    endpoint = settings.otel_exporter_otlp_traces_endpoint or (
        settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("media_analysis")
    log.info("tracing on: spans of %s exported over OTLP/HTTP", name)
    return True


def enabled() -> bool:
    """Whether this process traces (checked first on every hot path)."""
    return _tracer is not None


def _context(traceparent: str | None, tracestate: str | None) -> Context | None:
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    context = _W3C.extract(carrier)
    # An unreadable traceparent extracts to an empty context: a new trace, not an error.
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def event_context(envelope: Envelope) -> Context | None:
    """The trace context an event carries, or None (no extension, or tracing off)."""
    if _tracer is None:
        return None
    return _context(envelope.traceparent, envelope.tracestate)


def headers_context(headers: Iterable[tuple[str, bytes]] | Mapping[str, Any]) -> Context | None:
    """The trace context in a Kafka record's ``ce_traceparent`` / ``ce_tracestate``
    headers, for a consumer that has not decoded the record into an envelope."""
    if _tracer is None:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for key, raw in items:
        if key in ("ce_traceparent", "ce_tracestate"):
            found[key] = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
    return _context(found.get("ce_traceparent"), found.get("ce_tracestate"))


def stamped(envelope: Envelope) -> Envelope:
    """``envelope`` with the current span's context as its tracing extension; the
    envelope itself when tracing is off or no span is current."""
    if _tracer is None:
        return envelope
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    if "traceparent" not in carrier:
        return envelope
    return envelope.model_copy(
        update={"traceparent": carrier["traceparent"], "tracestate": carrier.get("tracestate")}
    )


@contextmanager
def span(
    name: str,
    *,
    context: Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes = None,
) -> Iterator[Span | None]:
    """A current span (child of ``context`` if given, else of the current span), or
    None when tracing is off. An exception escaping it marks the span as failed."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(
        name, context=context, kind=kind, attributes=attributes
    ) as current:
        yield current


def failed(current: Span | None, exc: BaseException) -> None:
    """Mark ``current`` (a span from :func:`span`, or None) as failed by ``exc``,
    which was handled rather than raised out of it."""
    if current is not None:
        current.record_exception(exc)
        current.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")


def record_spans(
    name: str,
    envelopes: Iterable[Envelope],
    start_ns: int,
    end_ns: int,
    attributes: Attributes = None,
) -> int:
    """One finished span, from ``start_ns`` to ``end_ns``, in the trace of each
    envelope that carries a context (a consumer's work on a batch of many traces);
    returns how many were recorded."""
    if _tracer is None:
        return 0
    recorded = 0
    for envelope in envelopes:
        context = _context(envelope.traceparent, envelope.tracestate)
        if context is None:
            continue
        one = _tracer.start_span(
            name,
            context=context,
            kind=SpanKind.CONSUMER,
            attributes={
                **(attributes or {}),
                "cloudevents.event_id": envelope.id,
                "cloudevents.event_type": envelope.type,
                "cloudevents.event_subject": envelope.subject,
            },
            start_time=start_ns,
        )
        one.end(end_time=end_ns)
        recorded += 1
    return recorded
