"""The read-model tables, as SQLAlchemy Core metadata.

The projector writes them; the query API reads them; Alembic migrations
(``alembic/versions``) create them. ``analysis_request`` is the PRD's table plus
``prompt`` and ``result_summary``; ``analysis_event`` is the append-only audit
trail (one row per event, keyed by the CloudEvents id, which also makes
re-delivered events harmless); ``projection_position`` holds the next offset to
read per partition, written in the same transaction as the rows.
"""

from __future__ import annotations

import json

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

analysis_request = Table(
    "analysis_request",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("media_type", String(50), nullable=False),
    Column("source_url", Text, nullable=False),
    Column("filename", String(500)),
    Column("analysis_config", JSONB),
    Column("analysis_options", JSONB),
    Column("results", JSONB),
    Column("progress", Integer, nullable=False),
    Column("error_message", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Column("deleted_at", DateTime(timezone=True)),
    Column("created_by", Uuid),
    Column("celery_task_id", String(255)),
    Column("prompt", Text),
    Column("result_summary", JSONB),
)

analysis_event = Table(
    "analysis_event",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("analysis_id", Uuid, nullable=False),
    Column("type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("correlation_id", Text),
    Column("causation_id", Text),
    Column("data", JSONB, nullable=False),
)

projection_position = Table(
    "projection_position",
    metadata,
    Column("projection", Text, primary_key=True),
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)

PROJECTION = "analysis_request"
"""The projection's name in ``projection_position`` (the projector's tables)."""

POSITIONS_CHANNEL = "projection_position"
"""The NOTIFY channel on which the projector announces the positions a batch
saves, from the transaction that saves them: PostgreSQL delivers the notice when,
and only if, that transaction commits, so a listener learns the new positions at
the moment they become visible instead of polling ``projection_position``."""


def read_positions_notice(payload: str, projection: str, topic: str) -> dict[int, int]:
    """The positions a notice announces for ``projection`` and ``topic``; nothing
    for another projection's, or for a payload that is not a notice. The
    projector's statement writes ``{"projection": .., "topic": .., "positions":
    {"<partition>": <next offset>, ..}}`` (``projector/batch_sql.py``)."""
    try:
        notice = json.loads(payload)
        if notice["projection"] != projection or notice["topic"] != topic:
            return {}
        return {int(p): int(o) for p, o in notice["positions"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


analysis_count = Table(
    "analysis_count",
    metadata,
    Column("bucket", Text, primary_key=True),
    Column("tenant", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("media_type", String(50), nullable=False),
    Column("n", BigInteger, nullable=False),
)
"""Written by the projector: how many analyses per (tenant, UTC day of creation,
status, media type); the history endpoint's totals are sums over it."""

RECOUNT_SQL = """
INSERT INTO analysis_count (bucket, tenant, day, status, media_type, n)
SELECT concat_ws('|', tenant, day, status, media_type), tenant, day, status, media_type, n
FROM (
    SELECT coalesce(created_by, '00000000-0000-0000-0000-000000000000') AS tenant,
           (created_at AT TIME ZONE 'UTC')::date AS day,
           status, media_type, count(*) AS n
    FROM analysis_request
    GROUP BY 1, 2, 3, 4
) AS grouped
"""
"""Fills an empty ``analysis_count`` from ``analysis_request``: migration 0004's
backfill and ``projection recount``; ``bucket`` is the text that
``projector.counts.Bucket.key`` makes."""

idempotency_key = Table(
    "idempotency_key",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("analysis_id", Uuid, nullable=False),
    Column("published", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Owned by the command side: one row per Idempotency-Key it has accepted."""

api_key = Table(
    "api_key",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant", Uuid, nullable=False),
    Column("name", Text, nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
"""API keys (access control): only a SHA-256 of each key is stored."""
