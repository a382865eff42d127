"""Composition root of the notifier."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from faststream.kafka import KafkaBroker

from infra.database import asyncpg_dsn, create_pool
from infra.kafka import build_kafka_broker
from infra.kafka_security import kafka_connection
from infra.ops_server import OpsEndpoints
from infra.readiness import KafkaCheck
from infra.settings import Settings
from infra.supervision import Failures
from notifier.consumer import register
from notifier.scheduler import DeliveryPolicy, Scheduler
from notifier.sender import WebhookSender

log = logging.getLogger(__name__)

Run = Callable[[], Awaitable[None]]


class _LazyPool:
    """One asyncpg pool, opened on first use (nothing connects while building)."""

    def __init__(self, settings: Settings, max_size: int) -> None:
        self._settings = settings
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    self._pool = await create_pool(self._settings, max_size=self._max_size)
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


def build_broker(
    settings: Settings, failures: Failures, ops: OpsEndpoints | None = None
) -> tuple[KafkaBroker, Run, Run]:
    """The notifier's broker, its delivery loop (to run beside it) and what closes
    the rest once both have stopped; its readiness checks go to ``ops``."""
    broker = build_kafka_broker(settings, "media-analysis-notifier", typed_bodies=True)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    if secret is None:
        log.warning("notifier: WEBHOOK_SECRET is not set; only tenants with a secret get webhooks")
    policy = DeliveryPolicy(
        schedule=tuple(settings.webhook_retry_schedule),
        timeout_seconds=settings.webhook_timeout_seconds,
        concurrency=settings.webhook_concurrency,
        poll_seconds=settings.webhook_poll_seconds,
        secret=secret,
    )
    # The media fetcher's networks and the webhooks' own.
    allowed = [*settings.media_fetch_allowed_networks, *settings.webhook_allowed_networks]
    sender = WebhookSender(
        allowed, settings.webhook_timeout_seconds, connections=settings.webhook_concurrency
    )
    # Bodies are read and attempts written in batches: a few connections serve every slot.
    pool = _LazyPool(settings, max_size=6)
    scheduler = Scheduler(pool, sender, policy, asyncpg_dsn(settings.database_url))
    register(broker, pool, scheduler.wake, failures)
    if ops is not None:
        kafka_check = KafkaCheck(kafka_connection(settings))
        ops.add_check("kafka", kafka_check)
        ops.on_close(kafka_check.close)

        async def postgres() -> None:
            async with (await pool()).acquire() as conn:
                await conn.fetchval("SELECT 1")

        ops.add_check("postgres", postgres)

    async def close() -> None:
        await sender.aclose()
        await pool.close()

    return broker, scheduler.run, close
