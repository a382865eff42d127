"""Composition root of the query side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from http_edge.health import KafkaCheck, postgres_check
from infra.database import create_engine, create_read_pool, single_statement_reads
from infra.settings import Settings
from read_model.positions import CatchUp, LogEnds, ProjectionWatermark


@dataclass(frozen=True, slots=True)
class QueryContext:
    engine: AsyncEngine
    pool: asyncpg.Pool
    """The status read's own pool (infra.database.create_read_pool)."""
    listing_pool: asyncpg.Pool
    """The history listing's pool: its pages are planned with their LIMIT and
    OFFSET on every execution (infra.database.CUSTOM_PLANS)."""
    catch_up: CatchUp
    """What a read that finds nothing waits for before it answers 404."""


@asynccontextmanager
async def query_lifespan(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    # The status and history reads use asyncpg pools; this engine serves only
    # the audit trail and the read-your-writes watcher, so it stays small and the
    # process does not hold three full pools' worth of PostgreSQL connections.
    engine = create_engine(settings, pool_size=2, max_overflow=4)
    pool = await create_read_pool(settings)
    listing_pool = await create_read_pool(
        settings, max_size=settings.database_pool_size, custom_plans=True
    )
    reads = single_statement_reads(engine)
    catch_up = CatchUp(
        LogEnds(settings.kafka_bootstrap_list),
        ProjectionWatermark(reads),
        settings.read_your_writes_timeout_seconds,
    )
    app.state.query = QueryContext(
        engine=reads, pool=pool, listing_pool=listing_pool, catch_up=catch_up
    )
    checks = getattr(app.state, "readiness_checks", {})
    checks.setdefault("postgres", postgres_check(engine))
    kafka_check = checks.setdefault("kafka", KafkaCheck(settings.kafka_bootstrap_list))
    app.state.readiness_checks = checks
    try:
        yield
    finally:
        await catch_up.close()
        if isinstance(kafka_check, KafkaCheck):
            await kafka_check.close()
        await pool.close()
        await listing_pool.close()
        await engine.dispose()
