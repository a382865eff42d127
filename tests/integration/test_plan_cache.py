"""Statements prepared while the table was young keep fitting plans as it grows
(real PostgreSQL): the history listing's pool, the projector's engine and the
replay's engines (rebuild, verify) plan every execution with its parameters
(infra.database.CUSTOM_PLANS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.database import create_engine, create_pool
from infra.settings import Settings
from infra.supervision import Failures
from projector import projection_schema as schemas
from projector.batch_sql import batch_sql
from projector.bootstrap import build_broker
from projector.replay import replay_engine
from query_api.views import HistoryQuery, _page_sql, _shape

ROWS = """
INSERT INTO analysis_request (id, status, media_type, source_url, prompt, created_at, updated_at)
SELECT gen_random_uuid(), 'completed', 'video', 'http://127.0.0.1/a.mp4', 'p',
       now() - make_interval(secs => n), now()
FROM generate_series(1, $1) AS n
"""


async def _plan_after_growth(
    conn: asyncpg.Connection, schema: str, prepare: str, young: str, grown: str
) -> str:
    """The plan of a statement prepared and run on 20 rows (``prepare``, then
    ``young`` eight times) once the table has 30,020 (``EXPLAIN grown``)."""
    await conn.execute(f'SET search_path TO "{schema}"')
    await conn.execute(ROWS, 20)
    await conn.execute("ANALYZE analysis_request")
    await conn.execute(prepare)
    for _ in range(8):  # past the five executions after which a generic plan may stick
        await conn.execute(young)
    await conn.execute(ROWS, 30_000)
    plan = await conn.fetch(f"EXPLAIN {grown}")
    return "\n".join(row[0] for row in plan)


@asynccontextmanager
async def _scratch_tables(engine: AsyncEngine) -> AsyncIterator[str]:
    """A schema with empty copies of the live tables, dropped afterwards."""
    schema = f"plans_{uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await schemas.create_like_live(conn, schema, await schemas.live_schema(conn))
    try:
        yield schema
    finally:
        async with engine.begin() as conn:
            await schemas.drop(conn, schema)


def test_a_history_page_prepared_on_a_young_table_still_walks_the_index_later(
    migrated: dict[str, str],
) -> None:
    settings = Settings(database_url=migrated["DATABASE_URL"])

    async def scenario() -> str:
        engine = create_engine(settings, pool_size=1)
        pool = await create_pool(settings, max_size=1, custom_plans=True)
        try:
            async with _scratch_tables(engine) as schema, pool.acquire() as conn:
                page = _page_sql(_shape(HistoryQuery())).sql
                return await _plan_after_growth(
                    conn,
                    schema,
                    f"PREPARE page(int, int) AS {page}",
                    "EXECUTE page(21, 0)",
                    "EXECUTE page(21, 100)",
                )
        finally:
            await pool.close()
            await engine.dispose()

    plan = asyncio.run(scenario())
    # Generic, it was a hash join over a sequential scan of the whole table.
    assert "Seq Scan" not in plan, plan
    assert "Index Cond: (id = analysis_request_1.id)" in plan, plan


def test_the_projectors_connections_plan_every_execution(migrated: dict[str, str]) -> None:
    settings = Settings(
        database_url=migrated["DATABASE_URL"],
        kafka_bootstrap_servers=migrated["KAFKA_BOOTSTRAP_SERVERS"],
    )

    async def scenario() -> str:
        _, engine = build_broker(settings, Failures())
        try:
            async with engine.connect() as conn:
                return str(await conn.scalar(text("SHOW plan_cache_mode")))
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == "force_custom_plan"


def test_a_replays_batch_read_prepared_on_young_tables_still_uses_the_index_later(
    migrated: dict[str, str],
) -> None:
    """A rebuild or verify replays into tables it has just created: its batch read
    of rows by id, prepared on a few rows, must not keep a sequential scan once
    the rebuilt table holds the whole history."""
    settings = Settings(database_url=migrated["DATABASE_URL"])
    ids = "ARRAY[" + ", ".join(f"'{uuid4()}'::uuid" for _ in range(50)) + "]"

    async def scenario() -> str:
        engine = replay_engine(settings, pool_size=2)
        try:
            async with _scratch_tables(engine) as schema, engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                return await _plan_after_growth(
                    raw,
                    schema,
                    f"PREPARE load(uuid[]) AS {batch_sql(schema).load_states}",
                    f"EXECUTE load({ids})",
                    f"EXECUTE load({ids})",
                )
        finally:
            await engine.dispose()

    plan = asyncio.run(scenario())
    # Generic, it was a sequential scan of the whole table for every batch.
    assert "Seq Scan" not in plan, plan
    assert "analysis_request_pkey" in plan, plan
