"""The webhook tables (migration 0006) as the API, the notifier and the CLI read
them: an analysis's deliveries with every attempt, a retry asked for by a client,
and tenants' signing secrets. The notifier alone schedules and sends
(``notifier/``); this module holds what the others may do to its tables.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

import asyncpg
from pydantic import BaseModel, Field

from infra.database import DRIVER_ERRORS
from read_model.errors import ReadModelUnavailable

DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]

_DELIVERY_IDS = UUID("3d0c0a44-8f0e-4d55-9a1d-6b8f1c9e2a57")


def delivery_id(event_id: str) -> UUID:
    """The delivery (and ``webhook-id``) of an event: the same on every read of it."""
    return uuid5(_DELIVERY_IDS, event_id)


def new_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Attempt(BaseModel):
    """One POST of a webhook and how it ended."""

    attempt: int = Field(ge=1)
    started_at: datetime
    url: str
    status_code: int | None = Field(description="The receiver's answer, if it answered.")
    error: str | None = Field(description="Why the attempt failed, if it did.")
    duration_ms: int
    next_attempt_at: datetime | None = Field(description="When it is tried again, if it is.")


class Delivery(BaseModel):
    """One webhook: the event it tells of, where it goes, its state and attempts."""

    delivery_id: UUID = Field(description="Also the `webhook-id` header of every attempt.")
    event_id: str
    event_type: str
    url: str
    status: DeliveryStatus
    attempts: list[Attempt]
    next_attempt_at: datetime | None
    created_at: datetime


class DeliveriesPublic(BaseModel):
    analysis_id: UUID
    data: list[Delivery]


_DELIVERIES = (
    "SELECT id, event_id, event_type, url, status, next_attempt_at, created_at "
    "FROM webhook_delivery WHERE analysis_id = $1 ORDER BY created_at, id"
)
_ATTEMPTS = (
    "SELECT a.delivery_id, a.attempt, a.started_at, a.url, a.status_code, a.error, "
    "a.duration_ms, a.next_attempt_at FROM webhook_attempt a "
    "JOIN webhook_delivery d ON d.id = a.delivery_id WHERE d.analysis_id = $1 "
    "ORDER BY a.delivery_id, a.attempt, a.id"
)
# A retry asked for: due now, a failed one pending again with one more attempt
# allowed (``attempts`` counts down the schedule: one step back).
_RETRY = (
    "UPDATE webhook_delivery SET status = 'pending', next_attempt_at = NOW(), "
    "attempts = CASE WHEN status = 'failed' THEN GREATEST(attempts - 1, 0) ELSE attempts END, "
    "updated_at = NOW() WHERE id = $1 AND analysis_id = $2 AND status <> 'cancelled' "
    "RETURNING id"
)


async def deliveries_of(pool: asyncpg.Pool, analysis_id: UUID) -> list[Delivery]:
    """Every delivery of the analysis with its attempts, oldest first."""
    try:
        async with pool.acquire() as conn:
            rows = await conn.fetch(_DELIVERIES, analysis_id)
            attempts = await conn.fetch(_ATTEMPTS, analysis_id) if rows else []
    except DRIVER_ERRORS as exc:
        raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc
    by_delivery: dict[UUID, list[Attempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a["delivery_id"], []).append(
            Attempt.model_validate({k: a[k] for k in Attempt.model_fields})
        )
    return [
        Delivery(
            delivery_id=r["id"],
            event_id=r["event_id"],
            event_type=r["event_type"],
            url=r["url"],
            status=r["status"],
            attempts=by_delivery.get(r["id"], []),
            next_attempt_at=r["next_attempt_at"] if r["status"] == "pending" else None,
            created_at=r["created_at"],
        )
        for r in rows
    ]


async def retry_now(pool: asyncpg.Pool, analysis_id: UUID, delivery: UUID) -> bool:
    """Make the delivery due now (a failed one gets one more attempt); False when
    the analysis has no such delivery or it was cancelled with its analysis."""
    try:
        async with pool.acquire() as conn:
            return await conn.fetchval(_RETRY, delivery, analysis_id) is not None
    except DRIVER_ERRORS as exc:
        raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc


async def tenant_secret(conn: asyncpg.Connection, tenant: UUID) -> str | None:
    """The tenant's signing secret, if it has one."""
    secret: str | None = await conn.fetchval(
        "SELECT secret FROM webhook_secret WHERE tenant = $1", tenant
    )
    return secret


async def set_tenant_secret(pool: asyncpg.Pool, tenant: UUID) -> str:
    """Create or replace (rotate) the tenant's signing secret; the new secret."""
    secret = new_secret()
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO webhook_secret (tenant, secret) VALUES ($1, $2) "
            "ON CONFLICT (tenant) DO UPDATE SET secret = EXCLUDED.secret, created_at = NOW()",
            tenant,
            secret,
        )
    return secret
