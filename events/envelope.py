"""The CloudEvents 1.0 envelope every analysis event travels in.

Over Kafka the envelope uses the CloudEvents Kafka protocol binding in binary
mode: attributes are ``ce_*`` record headers, ``data`` is the JSON record value
and the record key is the analysis id (``subject``), so all events of one
analysis land in one partition, totally ordered.

Extensions beyond the core attributes:

- ``correlationid``: shared by every event caused, directly or not, by one
  client request (the AnalysisRequested event's id by default).
- ``causationid``: the id of the event (or request) that caused this one.
- ``schemaversion``: version of the ``data`` schema, for upcasting.
- ``tenantid``: the tenant (API key owner) whose request started the chain;
  absent when the service runs without access control. Caused events inherit it.
- ``traceparent``, ``tracestate``: the CloudEvents distributed-tracing extension,
  the W3C Trace Context of the operation that produced the event (the POST that
  recorded a request, the processor run that recorded its progress), so that a
  consumer's work joins the same trace. Absent when tracing is off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny

from events.event_types import AnalysisEvent

SPEC_VERSION = "1.0"


class Envelope(BaseModel):
    """One event with its CloudEvents attributes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Unique per event; consumers de-duplicate on it.")
    source: str = Field(description="URI-reference of the producing service.")
    type: str = Field(description="Event type, e.g. media-analysis.analysis.requested.")
    subject: str = Field(description="The analysis id.")
    time: datetime = Field(description="When the fact happened (UTC).")
    schema_version: int = Field(ge=1, description="Version of the data schema.")
    correlation_id: str = Field(description="Groups all events of one client request.")
    causation_id: str | None = Field(default=None, description="What caused this event.")
    tenant_id: str | None = Field(
        default=None, description="The tenant whose request started the chain, if any."
    )
    traceparent: str | None = Field(
        default=None,
        description="W3C traceparent of the operation that produced the event, if traced.",
    )
    tracestate: str | None = Field(
        default=None, description="W3C tracestate that goes with traceparent, if any."
    )
    data: SerializeAsAny[AnalysisEvent]

    @property
    def analysis_id(self) -> UUID:
        return self.data.analysis_id


def new_envelope(
    data: AnalysisEvent,
    *,
    source: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
    tenant_id: str | None = None,
) -> Envelope:
    """Wrap ``data`` in a fresh envelope, stamping id, time and version."""
    eid = event_id or str(uuid4())
    return Envelope(
        id=eid,
        source=source,
        type=data.TYPE,
        subject=str(data.analysis_id),
        time=time or datetime.now(UTC),
        schema_version=data.VERSION,
        correlation_id=correlation_id or eid,
        causation_id=causation_id,
        tenant_id=tenant_id,
        data=data,
    )


def caused_by(cause: Envelope, data: AnalysisEvent, *, source: str) -> Envelope:
    """A new envelope for ``data`` that follows from ``cause`` (same correlation)."""
    return new_envelope(
        data,
        source=source,
        correlation_id=cause.correlation_id,
        causation_id=cause.id,
        tenant_id=cause.tenant_id,
    )
