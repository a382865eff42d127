"""Composition root of the query side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from media_analysis.database import create_engine, single_statement_reads
from media_analysis.health import KafkaCheck, postgres_check
from media_analysis.settings import Settings


@dataclass(frozen=True, slots=True)
class QueryContext:
    engine: AsyncEngine


@asynccontextmanager
async def query_lifespan(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    engine = create_engine(settings)
    app.state.query = QueryContext(engine=single_statement_reads(engine))
    checks = getattr(app.state, "readiness_checks", {})
    checks.setdefault("postgres", postgres_check(engine))
    kafka_check = checks.setdefault("kafka", KafkaCheck(settings.kafka_bootstrap_list))
    app.state.readiness_checks = checks
    try:
        yield
    finally:
        if isinstance(kafka_check, KafkaCheck):
            await kafka_check.close()
        await engine.dispose()
