"""Database pool gauges, per named pool: connections in use, the most it may
open, and tasks waiting for one (the PRD's pool-saturation alert).

The pools are sampled when ``/metrics`` is scraped (:func:`sample`) and, with
several API workers (prometheus-client's multiprocess mode), every second in each
worker, whose values the scrape sums. Neither asyncpg nor SQLAlchemy counts the
tasks waiting for a connection; both keep their free connections in an asyncio
queue, whose waiters are the count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

IN_USE = Gauge(
    "media_analysis_db_pool_in_use_connections",
    "Connections of the pool lent out now.",
    ["pool"],
    multiprocess_mode="livesum",
)
MAX = Gauge(
    "media_analysis_db_pool_max_connections",
    "Connections the pool may open at most.",
    ["pool"],
    multiprocess_mode="livesum",
)
WAITING = Gauge(
    "media_analysis_db_pool_waiting",
    "Tasks waiting for a connection of the pool.",
    ["pool"],
    multiprocess_mode="livesum",
)

# By name: a pool made again under the same name replaces the old one. asyncpg's
# pools cannot be weakly referenced; a closed one is dropped when next sampled.
_asyncpg: dict[str, asyncpg.Pool] = {}
_engines: dict[str, weakref.ref[AsyncEngine]] = {}

SAMPLE_INTERVAL_SECONDS = 1.0


def watch_pool(name: str, pool: asyncpg.Pool) -> None:
    _asyncpg[name] = pool


def watch_engine(name: str, engine: AsyncEngine) -> None:
    _engines[name] = weakref.ref(engine)


def _waiters(queue: Any) -> int:
    return len(getattr(queue, "_getters", ()) or ())


def sample() -> None:
    """Set the gauges from every watched pool still alive."""
    for name, pool in list(_asyncpg.items()):
        if pool.is_closing():
            del _asyncpg[name]
            continue
        IN_USE.labels(name).set(pool.get_size() - pool.get_idle_size())
        MAX.labels(name).set(pool.get_max_size())
        WAITING.labels(name).set(_waiters(getattr(pool, "_queue", None)))
    for name, eref in list(_engines.items()):
        engine = eref()
        if engine is None:
            continue
        queue_pool: Any = engine.pool
        IN_USE.labels(name).set(queue_pool.checkedout())
        MAX.labels(name).set(queue_pool.size() + max(getattr(queue_pool, "_max_overflow", 0), 0))
        waiting = getattr(getattr(queue_pool, "_pool", None), "_queue", None)
        WAITING.labels(name).set(_waiters(waiting))


@contextlib.asynccontextmanager
async def sampled_every_second() -> AsyncIterator[None]:
    """Keep this process's gauges fresh inside the block (multiprocess mode, where
    the worker answering a scrape cannot sample the others' pools)."""

    async def loop() -> None:
        while True:
            sample()
            await asyncio.sleep(SAMPLE_INTERVAL_SECONDS)

    task = asyncio.create_task(loop(), name="pool-metrics")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
