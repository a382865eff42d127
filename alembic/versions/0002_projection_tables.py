"""Projection support: prompt and result summary columns, the analysis_event
audit trail and per-partition projection positions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE analysis_request ADD COLUMN prompt TEXT")
    op.execute("ALTER TABLE analysis_request ADD COLUMN result_summary JSONB")
    op.execute(
        """
        CREATE TABLE analysis_event (
            event_id TEXT PRIMARY KEY,
            analysis_id UUID NOT NULL,
            type TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            time TIMESTAMP WITH TIME ZONE NOT NULL,
            partition INTEGER NOT NULL,
            "offset" BIGINT NOT NULL,
            correlation_id TEXT,
            causation_id TEXT,
            data JSONB NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX idx_analysis_event_analysis "
        'ON analysis_event(analysis_id, partition, "offset")'
    )
    op.execute(
        """
        CREATE TABLE projection_position (
            projection TEXT NOT NULL,
            topic TEXT NOT NULL,
            partition INTEGER NOT NULL,
            next_offset BIGINT NOT NULL,
            PRIMARY KEY (projection, topic, partition)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE projection_position")
    op.execute("DROP TABLE analysis_event")
    op.execute("ALTER TABLE analysis_request DROP COLUMN result_summary")
    op.execute("ALTER TABLE analysis_request DROP COLUMN prompt")
