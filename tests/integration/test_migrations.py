"""The Alembic migrations on a real PostgreSQL: up, down to nothing, up again,
and the PRD's table read back from the catalog."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import plain_dsn, scratch_database

ROOT = Path(__file__).resolve().parents[2]

PRD_COLUMNS = {
    "id": ("uuid", "NO", "gen_random_uuid()"),
    "status": ("character varying", "NO", "'pending'::character varying"),
    "media_type": ("character varying", "NO", None),
    "source_url": ("text", "NO", None),
    "filename": ("character varying", "YES", None),
    "analysis_config": ("jsonb", "YES", "'{}'::jsonb"),
    "analysis_options": ("jsonb", "YES", "'{}'::jsonb"),
    "results": ("jsonb", "YES", "'{}'::jsonb"),
    "progress": ("integer", "NO", "0"),
    "error_message": ("text", "YES", None),
    "created_at": ("timestamp with time zone", "NO", "now()"),
    "updated_at": ("timestamp with time zone", "NO", "now()"),
    "completed_at": ("timestamp with time zone", "YES", None),
    "deleted_at": ("timestamp with time zone", "YES", None),
    "created_by": ("uuid", "YES", None),
    "celery_task_id": ("character varying", "YES", None),
}

PRD_INDEXES = {
    "idx_analysis_request_status_active": "(status) WHERE ((status)::text <> 'deleted'::text)",
    "idx_analysis_request_created_at": "(created_at DESC)",
    "idx_analysis_request_status_created": "(status, created_at DESC) WHERE ((status)::text <> 'deleted'::text)",
    "idx_analysis_request_created_by": "(created_by, created_at DESC) WHERE (created_by IS NOT NULL)",
    "idx_analysis_request_celery_task": "(celery_task_id) WHERE (celery_task_id IS NOT NULL)",
    "idx_analysis_request_media_type": "(media_type) WHERE ((status)::text <> 'deleted'::text)",
}


@pytest.fixture(scope="module")
def scratch_db(infra_env: dict[str, str]) -> Any:
    """A database of its own, so migrating down does not disturb the running services."""
    with scratch_database(infra_env["DATABASE_URL"], "migrations") as url:
        yield url


def alembic(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


async def _catalog(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        columns = {
            r["column_name"]: (r["data_type"], r["is_nullable"], r["column_default"])
            for r in await conn.fetch(
                "SELECT column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_name = 'analysis_request'"
            )
        }
        indexes = {
            r["indexname"]: r["indexdef"]
            for r in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'analysis_request'"
            )
        }
        checks = (
            [
                r["def"]
                for r in await conn.fetch(
                    "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint "
                    "WHERE conrelid = 'analysis_request'::regclass AND contype = 'c'"
                )
            ]
            if "analysis_request" in tables
            else []
        )
        lengths = {
            r["column_name"]: r["character_maximum_length"]
            for r in await conn.fetch(
                "SELECT column_name, character_maximum_length FROM information_schema.columns "
                "WHERE table_name = 'analysis_request' AND character_maximum_length IS NOT NULL"
            )
        }
        return {
            "tables": tables,
            "columns": columns,
            "indexes": indexes,
            "checks": checks,
            "lengths": lengths,
        }
    finally:
        await conn.close()


def test_upgrade_downgrade_upgrade_yields_the_prd_table(scratch_db: str) -> None:
    alembic(scratch_db, "upgrade", "0001")
    at_prd = asyncio.run(_catalog(scratch_db))
    assert at_prd["columns"] == PRD_COLUMNS
    assert at_prd["lengths"] == {
        "status": 20,
        "media_type": 50,
        "filename": 500,
        "celery_task_id": 255,
    }
    for name, shape in PRD_INDEXES.items():
        assert at_prd["indexes"][name].endswith(shape), at_prd["indexes"][name]
    assert set(at_prd["indexes"]) == {*PRD_INDEXES, "analysis_request_pkey"}
    checks = " ".join(at_prd["checks"])
    for value in ("pending", "processing", "completed", "failed", "deleted"):
        assert f"'{value}'" in checks
    for value in ("video", "audio", "document", "image", "unknown"):
        assert f"'{value}'" in checks
    assert "progress >= 0" in checks
    assert "progress <= 100" in checks

    alembic(scratch_db, "upgrade", "head")
    at_head = asyncio.run(_catalog(scratch_db))
    assert {"analysis_request", "analysis_event", "projection_position"} <= at_head["tables"]
    assert set(PRD_COLUMNS) < set(at_head["columns"])

    alembic(scratch_db, "downgrade", "base")
    assert asyncio.run(_catalog(scratch_db))["tables"] == {"alembic_version"}

    alembic(scratch_db, "upgrade", "head")
    assert asyncio.run(_catalog(scratch_db))["columns"] == at_head["columns"]


def test_each_migration_rolls_back_on_its_own(scratch_db: str) -> None:
    """The rollback table of docs/prd-differences.md: downgrading to the revision
    before one drops exactly what that one added."""
    alembic(scratch_db, "upgrade", "head")
    tables = asyncio.run(_catalog(scratch_db))["tables"]
    steps = [
        (
            "0005",
            {"webhook_subscription", "webhook_delivery", "webhook_attempt", "webhook_secret"},
        ),
        ("0004", {"api_key"}),
        ("0003", {"analysis_count"}),
        ("0002", {"idempotency_key"}),
        ("0001", {"analysis_event", "projection_position"}),
        ("base", {"analysis_request"}),
    ]
    for revision, dropped in steps:
        alembic(scratch_db, "downgrade", revision)
        now = asyncio.run(_catalog(scratch_db))["tables"]
        assert tables - now == dropped, (revision, tables - now)
        tables = now
    assert tables == {"alembic_version"}
