"""API keys for access control: ``api_key``.

One row per key: the tenant it acts for, a name, and the SHA-256 of the key
(the key itself is shown once, when created, and never stored). Revoking sets
``revoked_at``; the row stays for the record.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE api_key (
            id UUID PRIMARY KEY,
            tenant UUID NOT NULL,
            name TEXT NOT NULL,
            key_hash CHAR(64) NOT NULL UNIQUE,
            created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
            revoked_at TIMESTAMP WITH TIME ZONE
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE api_key")
