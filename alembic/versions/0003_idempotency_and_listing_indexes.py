"""Command-side idempotency keys, and indexes for keyset listing and the
estimated-time median.

``idempotency_key`` belongs to the command side (it never writes the read
table): a POST with an ``Idempotency-Key`` header claims the key with
INSERT ... ON CONFLICT, so concurrent duplicates agree on one analysis id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LISTING = ("created_at", "updated_at", "completed_at")


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE idempotency_key (
            key VARCHAR(255) PRIMARY KEY,
            request_hash CHAR(64) NOT NULL,
            analysis_id UUID NOT NULL,
            published BOOLEAN NOT NULL DEFAULT false,
            created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
        )
        """
    )
    # Keyset pages: (sort column, id) so "after this row" is one index range scan.
    for column in _LISTING:
        op.execute(
            f"CREATE INDEX idx_analysis_request_{column}_id "
            f"ON analysis_request({column}, id) WHERE status != 'deleted'"
        )
    op.execute(
        "CREATE INDEX idx_analysis_request_completed_by_type "
        "ON analysis_request(media_type, completed_at DESC) WHERE status = 'completed'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX idx_analysis_request_completed_by_type")
    for column in _LISTING:
        op.execute(f"DROP INDEX idx_analysis_request_{column}_id")
    op.execute("DROP TABLE idempotency_key")
