"""Command handlers: plain functions, their dependencies passed in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID, uuid4, uuid5

from command_api.analysis_lookup import AnalysisLookup
from command_api.idempotency import IdempotencyStore, request_hash
from command_api.publisher import EventLogUnavailable, EventPublisher, LogPosition
from command_api.schemas import AnalyzeRequest
from events import AnalysisDeleted, AnalysisRequested, MediaAnalysisError, new_envelope
from infra.logs import bind_analysis
from read_model.errors import ReadModelUnavailable

SOURCE = "/media-analysis/command-api"
# Event ids of idempotent requests derive from the analysis id, so a re-publication
# after a crash is the same event and the projector applies it once.
_EVENT_IDS = UUID("6f1b7d0e-3c55-4c8e-9a43-2f0f8f5b1c11")

log = logging.getLogger(__name__)


class AnalysisNotFound(MediaAnalysisError):
    """No analysis has that id."""


class AnalysisAlreadyDeleted(MediaAnalysisError):
    """The analysis was deleted before."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """Where the event landed; ``position`` is None when an earlier request with
    the same idempotency key recorded it."""

    analysis_id: UUID
    position: LogPosition | None


async def request_analysis(
    request: AnalyzeRequest,
    publisher: EventPublisher,
    idempotency: IdempotencyStore | None = None,
    key: str | None = None,
    tenant: UUID | None = None,
) -> Recorded:
    """Record an AnalysisRequested event for a new analysis, at most once per
    idempotency ``key`` (raises IdempotencyKeyReused for a different body).
    ``tenant`` (access control on) owns the analysis and its idempotency keys."""
    if idempotency is None or key is None:
        return await _publish_requested(request, uuid4(), publisher, None, tenant)
    if tenant is not None:
        key = f"{tenant}:{key}"  # one tenant's key never answers with another's analysis
    # Without a webhook the digest is the one of releases before webhooks existed, so a
    # key stored by one of them still matches the same request retried after an upgrade.
    unset = {"webhook_url", "webhook_events"} if request.webhook_url is None else None
    digest = request_hash(request.model_dump(mode="json", exclude=unset))
    claim = await idempotency.claim(key, digest, uuid4())
    if not claim.owned:
        bind_analysis(claim.analysis_id)
        return Recorded(claim.analysis_id, None)
    event_id = str(uuid5(_EVENT_IDS, str(claim.analysis_id)))
    try:
        recorded = await _publish_requested(request, claim.analysis_id, publisher, event_id, tenant)
    except EventLogUnavailable:
        await idempotency.release(key)
        raise
    try:
        await idempotency.mark_published(key)
    except ReadModelUnavailable as exc:
        # The event is recorded; an unmarked claim is only taken over (same event id) later.
        log.warning("could not mark idempotency key as published: %s", exc)
    return recorded


async def _publish_requested(
    request: AnalyzeRequest,
    analysis_id: UUID,
    publisher: EventPublisher,
    event_id: str | None,
    tenant: UUID | None,
) -> Recorded:
    event = AnalysisRequested(
        analysis_id=analysis_id,
        prompt=request.prompt,
        media_url=str(request.media_url),
        media_type=request.media_type,
        filename=request.filename,
        config=request.config.model_dump(mode="json"),
        options=request.options.model_dump(),
        created_by=tenant,
        webhook_url=None if request.webhook_url is None else str(request.webhook_url),
        webhook_events=list(dict.fromkeys(request.webhook_events)),
    )
    envelope = new_envelope(
        event, source=SOURCE, event_id=event_id, tenant_id=str(tenant) if tenant else None
    )
    bind_analysis(analysis_id, envelope.correlation_id)  # this request's log records
    position = await publisher.publish(envelope)
    return Recorded(analysis_id, position)


async def delete_analysis(
    analysis_id: UUID, lookup: AnalysisLookup, publisher: EventPublisher, tenant: UUID | None = None
) -> Recorded:
    """Record an AnalysisDeleted event, refusing unknown and already deleted ids
    (and, with access control, another tenant's: refused as unknown)."""
    bind_analysis(analysis_id)
    status = await lookup.status_of(analysis_id, tenant)
    if status is None:
        raise AnalysisNotFound(f"No analysis with id {analysis_id}.")
    if status == "deleted":
        raise AnalysisAlreadyDeleted(f"Analysis {analysis_id} has been deleted.")
    envelope = new_envelope(
        AnalysisDeleted(analysis_id=analysis_id),
        source=SOURCE,
        tenant_id=str(tenant) if tenant else None,
    )
    bind_analysis(analysis_id, envelope.correlation_id)
    return Recorded(analysis_id, await publisher.publish(envelope))
