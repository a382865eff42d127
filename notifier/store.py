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
from typing import Any
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
from read_model.status import STATUS_COLUMNS
from read_model.status import TABLE as STATUS_TABLE
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
    """Record the batch's subscriptions, then deliveries, then cancellations, in one
    transaction (each kind in one pipelined round trip). Within one analysis that
    is log order: a request precedes its outcomes, and a deletion ends it."""
    subscriptions, deliveries, deleted = [], [], []
    for item in items:
        envelope, data = item.envelope, item.envelope.data
        if isinstance(data, AnalysisRequested):
            if data.webhook_url is not None:
                events = list(data.webhook_events)
                subscriptions.append((data.analysis_id, data.webhook_url, events, data.created_by))
        elif isinstance(data, AnalysisDeleted):
            deleted.append((data.analysis_id,))
        elif (kind := KIND_OF.get(envelope.type)) is not None:
            deliveries.append(
                (
                    delivery_id(envelope.id),
                    envelope.id,
                    envelope.type,
                    item.partition,
                    item.offset,
                    envelope.analysis_id,
                    kind,
                )
            )
    async with conn.transaction():
        for statement, rows in (
            (_SUBSCRIBE, subscriptions),
            (_DELIVER, deliveries),
            (_CANCEL, deleted),
            (_UNSUBSCRIBE, deleted),
        ):
            if rows:
                await conn.executemany(statement, rows)


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


_STATUS_ROWS = f"SELECT {', '.join(STATUS_COLUMNS)} FROM {STATUS_TABLE} WHERE id = ANY($1::uuid[])"  # noqa: S608
_SAVE_BODIES = (
    "UPDATE webhook_delivery d SET body = COALESCE(d.body, u.body) "
    "FROM unnest($1::uuid[], $2::text[]) AS u(id, body) WHERE d.id = u.id "
    "RETURNING d.id, d.body"
)


async def status_rows(pool: asyncpg.Pool, analyses: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    """The status rows (``read_model.status.STATUS_COLUMNS``) of these analyses."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(_STATUS_ROWS, list(analyses))
    return {row["id"]: dict(row) for row in rows}


async def save_bodies(pool: asyncpg.Pool, bodies: dict[UUID, str]) -> dict[UUID, str]:
    """Keep the first attempt's bodies: every retry sends (and signs) the same bytes.
    The bodies kept (another notifier's, where it got there first)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(_SAVE_BODIES, list(bodies), list(bodies.values()))
    return {row["id"]: row["body"] for row in rows}


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


_INSERT_ATTEMPT = (
    "INSERT INTO webhook_attempt (delivery_id, attempt, started_at, url, status_code, "
    "error, duration_ms, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
_AFTER_ATTEMPTS = (
    "UPDATE webhook_delivery d SET attempts = d.attempts + 1, status = u.status, "
    "next_attempt_at = u.next_attempt_at, updated_at = NOW() "
    "FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(id, status, next_attempt_at) "
    "WHERE d.id = u.id AND d.status = 'pending'"
)


def _state_after(outcome: AttemptOutcome) -> str:
    if outcome.delivered:
        return "delivered"
    return "pending" if outcome.next_attempt_at is not None else "failed"


async def record_attempts(pool: asyncpg.Pool, done: Sequence[tuple[Due, AttemptOutcome]]) -> None:
    """The attempts and their deliveries' new states, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            _INSERT_ATTEMPT,
            [
                (
                    due.id,
                    due.attempts + 1,
                    o.started_at,
                    o.url,
                    o.status_code,
                    o.error,
                    o.duration_ms,
                    o.next_attempt_at,
                )
                for due, o in done
            ],
        )
        await conn.execute(
            _AFTER_ATTEMPTS,
            [due.id for due, _ in done],
            [_state_after(o) for _, o in done],
            [o.next_attempt_at for _, o in done],
        )


async def cancel(pool: asyncpg.Pool, due: Due) -> None:
    """Nothing to send (the analysis was deleted before its body was read)."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE webhook_delivery SET status = 'cancelled', next_attempt_at = NULL, "
            "updated_at = NOW() WHERE id = $1",
            due.id,
        )
