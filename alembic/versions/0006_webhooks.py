"""Webhooks: the notifier's subscriptions, deliveries and attempts, and tenants' secrets.

- ``webhook_subscription``: an analysis's ``webhook_url`` and event kinds, from
  its AnalysisRequested event.
- ``webhook_delivery``: one webhook to send, keyed by an id derived from the
  event id (inserted once however often the event is read). Its schedule
  (``attempts``, ``next_attempt_at``) and the exact body sent on every attempt
  live here, so a restarted notifier carries on where the last one stopped.
- ``webhook_attempt``: every attempt, for ``GET /api/media/{id}/deliveries``.
- ``webhook_secret``: a tenant's signing secret (API keys on), stored as the
  HMAC needs it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE webhook_subscription (
            analysis_id UUID PRIMARY KEY,
            url TEXT NOT NULL,
            events TEXT[] NOT NULL,
            tenant UUID,
            created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE webhook_delivery (
            id UUID PRIMARY KEY,
            analysis_id UUID NOT NULL,
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            partition INTEGER NOT NULL,
            "offset" BIGINT NOT NULL,
            url TEXT NOT NULL,
            tenant UUID,
            status VARCHAR(20) NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TIMESTAMP WITH TIME ZONE,
            body TEXT,
            created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
            updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_webhook_delivery_due ON webhook_delivery (next_attempt_at) "
        "WHERE status = 'pending'"
    )
    op.execute("CREATE INDEX ix_webhook_delivery_analysis ON webhook_delivery (analysis_id)")
    op.execute(
        """
        CREATE TABLE webhook_attempt (
            id BIGSERIAL PRIMARY KEY,
            delivery_id UUID NOT NULL REFERENCES webhook_delivery (id) ON DELETE CASCADE,
            attempt INTEGER NOT NULL,
            started_at TIMESTAMP WITH TIME ZONE NOT NULL,
            url TEXT NOT NULL,
            status_code INTEGER,
            error TEXT,
            duration_ms INTEGER NOT NULL,
            next_attempt_at TIMESTAMP WITH TIME ZONE
        )
        """
    )
    op.execute("CREATE INDEX ix_webhook_attempt_delivery ON webhook_attempt (delivery_id)")
    op.execute(
        """
        CREATE TABLE webhook_secret (
            tenant UUID PRIMARY KEY,
            secret TEXT NOT NULL,
            created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE webhook_secret")
    op.execute("DROP TABLE webhook_attempt")
    op.execute("DROP TABLE webhook_delivery")
    op.execute("DROP TABLE webhook_subscription")
