"""The notifier's writes to its tables (migration 0006): what the consumer records
from the log, and what the scheduler claims and records per attempt.

Recording is idempotent (the delivery id derives from the event id), so a batch
read again after a crash or a rebalance inserts nothing twice. Claiming moves a
due delivery's ``next_attempt_at`` forward by a lease in the same statement that
locks it (``FOR UPDATE SKIP LOCKED``): several notifiers never send the same
attempt at once, and a notifier killed mid-send leaves the delivery due again
once the lease ends, with its attempt count intact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from events import (
    EVENTS_TOPIC,
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    WebhookEvent,
)
from infra.record_parser import Consumed
from read_model.tables import PROJECTION
from read_model.webhooks import delivery_id

KIND_OF: dict[str, WebhookEvent] = {
    AnalysisCompleted.TYPE: "completed",
    AnalysisFailed.TYPE: "failed",
    AnalysisProgressed.TYPE: "progressed",
}
"""The event types a webhook can be sent for, by the name a request subscribes with."""

_SUBSCRIBE = (
    "INSERT INTO webhook_subscription (analysis_id, url, events, tenant) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (analysis_id) DO NOTHING"
)
_DELIVER = (
    "INSERT INTO webhook_delivery (id, analysis_id, event_id, event_type, partition, "
    '"offset", url, tenant, next_attempt_at) '
    "SELECT $1, s.analysis_id, $2, $3, $4, $5, s.url, s.tenant, NOW() "
    "FROM webhook_subscription s WHERE s.analysis_id = $6 AND $7 = ANY (s.events) "
    "ON CONFLICT (id) DO NOTHING"
)
# A deleted analysis's content is erased: nothing more is sent, no body is kept.
_CANCEL = (
    "UPDATE webhook_delivery SET status = CASE WHEN status = 'pending' THEN 'cancelled' "
    "ELSE status END, body = NULL, updated_at = NOW() WHERE analysis_id = $1"
)
_UNSUBSCRIBE = "DELETE FROM webhook_subscription WHERE analysis_id = $1"


def relevant(item: Consumed) -> bool:
    """Whether the notifier records anything for this event."""
    data = item.envelope.data
    if isinstance(data, AnalysisRequested):
        return data.webhook_url is not None
    return item.envelope.type in KIND_OF or isinstance(data, AnalysisDeleted)


async def record(conn: asyncpg.Connection, items: Sequence[Consumed]) -> None:
    """Record the batch's subscriptions, deliveries and cancellations, in log order,
    in one transaction."""
    async with conn.transaction():
        for item in items:
            envelope, data = item.envelope, item.envelope.data
            if isinstance(data, AnalysisRequested):
                if data.webhook_url is not None:
                    await conn.execute(
                        _SUBSCRIBE,
                        data.analysis_id,
                        data.webhook_url,
                        list(data.webhook_events),
                        data.created_by,
                    )
            elif isinstance(data, AnalysisDeleted):
                await conn.execute(_CANCEL, data.analysis_id)
                await conn.execute(_UNSUBSCRIBE, data.analysis_id)
            elif (kind := KIND_OF.get(envelope.type)) is not None:
                await conn.execute(
                    _DELIVER,
                    delivery_id(envelope.id),
                    envelope.id,
                    envelope.type,
                    item.partition,
                    item.offset,
                    envelope.analysis_id,
                    kind,
                )


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed delivery, ready for its next attempt."""

    id: UUID
    analysis_id: UUID
    event_id: str
    event_type: str
    url: str
    tenant: UUID | None
    attempts: int
    body: str | None


# Due, and (the first time, when it has no body yet) only once the projection
# has applied its event, so the body shows the state after it.
_CLAIM = f"""
WITH due AS (
    SELECT d.id FROM webhook_delivery d
    WHERE d.status = 'pending' AND d.next_attempt_at <= NOW()
      AND (d.body IS NOT NULL OR EXISTS (
          SELECT 1 FROM projection_position p
          WHERE p.projection = '{PROJECTION}' AND p.topic = '{EVENTS_TOPIC}'
            AND p.partition = d.partition AND p.next_offset > d."offset"))
    ORDER BY d.next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_delivery d SET next_attempt_at = NOW() + make_interval(secs => $2)
FROM due WHERE d.id = due.id
RETURNING d.id, d.analysis_id, d.event_id, d.event_type, d.url, d.tenant, d.attempts, d.body
"""  # noqa: S608 (constants, no input)


async def claim(pool: asyncpg.Pool, limit: int, lease_seconds: float) -> list[Due]:
    """Up to ``limit`` due deliveries, leased to this notifier for ``lease_seconds``."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(_CLAIM, limit, lease_seconds)
    return [Due(**dict(row)) for row in rows]


async def save_body(pool: asyncpg.Pool, delivery: UUID, body: str) -> str:
    """Keep the first attempt's body: every retry sends (and signs) the same bytes.
    The body kept (another notifier's, when it got there first)."""
    async with pool.acquire() as conn:
        kept: str = await conn.fetchval(
            "UPDATE webhook_delivery SET body = COALESCE(body, $2) WHERE id = $1 RETURNING body",
            delivery,
            body,
        )
    return kept


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How one attempt ended, and what follows: ``next_attempt_at`` None ends it."""

    started_at: datetime
    url: str
    status_code: int | None
    error: str | None
    duration_ms: int
    delivered: bool
    next_attempt_at: datetime | None


async def record_attempt(pool: asyncpg.Pool, due: Due, outcome: AttemptOutcome) -> None:
    """The attempt and the delivery's new state, in one transaction."""
    status = (
        "delivered"
        if outcome.delivered
        else ("pending" if outcome.next_attempt_at is not None else "failed")
    )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO webhook_attempt (delivery_id, attempt, started_at, url, status_code, "
            "error, duration_ms, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            due.id,
            due.attempts + 1,
            outcome.started_at,
            outcome.url,
            outcome.status_code,
            outcome.error,
            outcome.duration_ms,
            outcome.next_attempt_at,
        )
        await conn.execute(
            "UPDATE webhook_delivery SET attempts = attempts + 1, status = $2, "
            "next_attempt_at = $3, updated_at = NOW() WHERE id = $1 AND status = 'pending'",
            due.id,
            status,
            outcome.next_attempt_at,
        )


async def cancel(pool: asyncpg.Pool, due: Due) -> None:
    """Nothing to send (the analysis was deleted before its body was read)."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE webhook_delivery SET status = 'cancelled', next_attempt_at = NULL, "
            "updated_at = NOW() WHERE id = $1",
            due.id,
        )
