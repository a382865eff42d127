"""Composition root of the query side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI

from http_edge.health import KafkaCheck, postgres_check
from infra.database import asyncpg_dsn, create_pool
from infra.kafka_security import kafka_connection
from infra.settings import Settings
from query_api.stream import StreamHub
from read_model.positions import CatchUp, LogEnds
from read_model.watermark import ProjectionWatermark


@dataclass(frozen=True, slots=True)
class QueryContext:
    pool: asyncpg.Pool
    """The status read's pool (infra.database.create_pool), also the audit
    trail's and the read-your-writes watcher's."""
    listing_pool: asyncpg.Pool
    """The history listing's pool: its pages are planned with their LIMIT and
    OFFSET on every execution (infra.database.CUSTOM_PLANS)."""
    catch_up: CatchUp
    """What a read that finds nothing waits for before it answers 404."""
    streams: StreamHub
    """The live status streams' listener and followers."""


@asynccontextmanager
async def query_lifespan(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    pool = await create_pool(settings, name="query")
    listing_pool = await create_pool(
        settings, max_size=settings.database_pool_size, custom_plans=True, name="history"
    )
    catch_up = CatchUp(
        LogEnds(kafka_connection(settings)),
        ProjectionWatermark(pool),
        settings.read_your_writes_timeout_seconds,
    )
    streams = StreamHub(
        pool,
        asyncpg_dsn(settings.database_url),
        heartbeat=settings.stream_heartbeat_seconds,
        max_open=settings.stream_max_open,
        all_max=settings.stream_all_max_analyses,
    )
    streams.start()
    app.state.query = QueryContext(
        pool=pool, listing_pool=listing_pool, catch_up=catch_up, streams=streams
    )
    checks = getattr(app.state, "readiness_checks", {})
    checks.setdefault("postgres", postgres_check(pool))
    kafka_check = checks.setdefault("kafka", KafkaCheck(kafka_connection(settings)))
    app.state.readiness_checks = checks
    try:
        yield
    finally:
        await streams.close()
        await catch_up.close()
        if isinstance(kafka_check, KafkaCheck):
            await kafka_check.close()
        await pool.close()
        await listing_pool.close()
