"""History totals as a projection: ``analysis_count``; an index for filtered listings.

``GET /api/media/history`` answers ``pagination.total`` exactly; a ``count(*)``
over a million rows costs 74-172 ms per request. The projector keeps one row per
(tenant, day of created_at in UTC, status, media type) with the number of
analyses in it, in the same transaction as the rows, so a total is a sum over
at most a few hundred small rows (plus exact counts of the partial days at the
edges of a date filter). ``bucket`` is those four values joined, a single key
that ``projection verify`` compares like the other tables. Rows that reach 0
are deleted in the same transaction, so the table does not depend on batching.
No CHECK (n >= 0): PostgreSQL checks the proposed row of an upsert before it
resolves the conflict, and a delta is negative when an analysis leaves a bucket;
a row edited by hand shows up in ``projection verify`` instead of wedging the
projector.

Backfilled from the existing rows, so upgrading a populated database keeps its
totals right.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

from read_model.tables import RECOUNT_SQL

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE analysis_count (
            bucket TEXT PRIMARY KEY,
            tenant UUID NOT NULL,
            day DATE NOT NULL,
            status VARCHAR(20) NOT NULL,
            media_type VARCHAR(50) NOT NULL,
            n BIGINT NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX idx_analysis_count_tenant_day ON analysis_count(tenant, day)")
    # Filtered listings (status and media type, newest first) walk this index in
    # order instead of filtering the whole created_at index.
    op.execute(
        "CREATE INDEX idx_analysis_request_status_type_created "
        "ON analysis_request(status, media_type, created_at, id)"
    )
    op.execute(RECOUNT_SQL)


def downgrade() -> None:
    op.execute("DROP INDEX idx_analysis_request_status_type_created")
    op.execute("DROP TABLE analysis_count")
