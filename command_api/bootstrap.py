"""Composition root of the command side: builds its clients from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from command_api.analysis_lookup import AnalysisLookup, CaughtUpLookup, ProjectionLookup
from command_api.estimates import DurationEstimator, MedianDurationEstimator
from command_api.idempotency import IdempotencyStore, PostgresIdempotencyStore
from command_api.publisher import EventPublisher, KafkaEventPublisher
from http_edge.health import KafkaCheck, postgres_check
from infra.database import create_pool
from infra.kafka import build_kafka_broker
from infra.kafka_security import kafka_connection
from infra.settings import Settings
from read_model.positions import CatchUp, LogEnds
from read_model.watermark import ProjectionWatermark

PRODUCE_LINGER_MS = 5
"""How long a POST's event waits for others to share its produce request: fewer,
larger produce requests cost the API and Kafka less CPU under load, for a few
milliseconds on each POST's answer (docs/performance-notes.md)."""


@dataclass(frozen=True, slots=True)
class CommandContext:
    publisher: EventPublisher
    lookup: AnalysisLookup
    watermark: ProjectionWatermark
    read_your_writes_timeout: float
    idempotency: IdempotencyStore
    estimator: DurationEstimator


def build_broker(settings: Settings) -> KafkaBroker:
    """A producer-only broker; concurrent requests share produce requests."""
    return build_kafka_broker(settings, "media-analysis-command-api", linger_ms=PRODUCE_LINGER_MS)


@asynccontextmanager
async def command_lifespan(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Start the producer and the database pool; stop them on shutdown."""
    broker = build_broker(settings)
    pool = await create_pool(settings, name="command")
    watermark = ProjectionWatermark(pool)
    catch_up = CatchUp(
        LogEnds(kafka_connection(settings)),
        watermark,
        settings.read_your_writes_timeout_seconds,
    )
    kafka_check = KafkaCheck(kafka_connection(settings))
    await broker.start()
    app.state.command = CommandContext(
        publisher=KafkaEventPublisher(broker, settings.kafka_publish_timeout_seconds),
        lookup=CaughtUpLookup(ProjectionLookup(pool), catch_up),
        watermark=watermark,
        read_your_writes_timeout=settings.read_your_writes_timeout_seconds,
        # A claim unpublished for longer than a publish can take was left by a crash.
        idempotency=PostgresIdempotencyStore(
            pool, stale_after=settings.kafka_publish_timeout_seconds + 10
        ),
        estimator=MedianDurationEstimator(pool, ttl=settings.estimated_time_cache_seconds),
    )
    checks = getattr(app.state, "readiness_checks", {})
    checks.update({"kafka": kafka_check, "postgres": postgres_check(pool)})
    app.state.readiness_checks = checks
    try:
        yield
    finally:
        await catch_up.close()
        await kafka_check.close()
        await broker.stop()
        await pool.close()
