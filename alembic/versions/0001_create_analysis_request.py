"""Create analysis_request exactly as the PRD defines it (section 4).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE EXTENSION IF NOT EXISTS "pgcrypto"')
    op.execute(
        """
        CREATE TABLE analysis_request (
            id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            status VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (
                status IN ('pending', 'processing', 'completed', 'failed', 'deleted')
            ),
            media_type VARCHAR(50) NOT NULL CHECK (
                media_type IN ('video', 'audio', 'document', 'image', 'unknown')
            ),
            source_url TEXT NOT NULL,
            filename VARCHAR(500),
            analysis_config JSONB DEFAULT '{}',
            analysis_options JSONB DEFAULT '{}',
            results JSONB DEFAULT '{}',
            progress INTEGER NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 100),
            error_message TEXT,
            created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,
            updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,
            completed_at TIMESTAMP WITH TIME ZONE,
            deleted_at TIMESTAMP WITH TIME ZONE,
            created_by UUID,
            celery_task_id VARCHAR(255)
        )
        """
    )
    op.execute(
        "CREATE INDEX idx_analysis_request_status_active "
        "ON analysis_request(status) WHERE status != 'deleted'"
    )
    op.execute("CREATE INDEX idx_analysis_request_created_at ON analysis_request(created_at DESC)")
    op.execute(
        "CREATE INDEX idx_analysis_request_status_created "
        "ON analysis_request(status, created_at DESC) WHERE status != 'deleted'"
    )
    op.execute(
        "CREATE INDEX idx_analysis_request_created_by "
        "ON analysis_request(created_by, created_at DESC) WHERE created_by IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX idx_analysis_request_celery_task "
        "ON analysis_request(celery_task_id) WHERE celery_task_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX idx_analysis_request_media_type "
        "ON analysis_request(media_type) WHERE status != 'deleted'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE analysis_request")
