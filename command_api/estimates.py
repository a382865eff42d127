"""``estimated_time``: the median duration (completed_at - created_at) of the
most recent completed analyses of the same media type, falling back to a
default per type when there are none or the database does not answer.

One query per media type per ``ttl`` seconds at most, whatever the request rate.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Protocol

import asyncpg

from infra.database import DRIVER_ERRORS

log = logging.getLogger(__name__)

DEFAULT_SECONDS: dict[str, int] = {
    "video": 60,
    "audio": 30,
    "document": 15,
    "image": 10,
    "unknown": 45,
}
"""Estimates until completed analyses of a type teach better."""

SAMPLE_SIZE = 100
"""How many of the most recent completed analyses the median is taken over."""

_MEDIAN_SQL = (
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM ("
    "SELECT extract(epoch FROM completed_at - created_at) AS seconds FROM analysis_request "
    "WHERE status = 'completed' AND media_type = $1 "
    "ORDER BY completed_at DESC LIMIT $2) AS recent"
)


class DurationEstimator(Protocol):
    async def seconds_for(self, media_type: str) -> int: ...


class MedianDurationEstimator:
    """Median of recent completed analyses, cached per media type.

    One query per media type at a time: concurrent requests share it, and once a
    type has an estimate, an expired one is answered at once while a single
    background query refreshes it. (Each request querying on expiry was a
    stampede under load: hundreds of identical queries at once exhausted the
    pool and held every POST for the query timeout.)
    """

    def __init__(self, pool: asyncpg.Pool, *, ttl: float, timeout: float = 1.0) -> None:
        self._pool = pool
        self._ttl = ttl
        self._timeout = timeout
        self._cache: dict[str, tuple[float, int]] = {}
        self._refreshing: dict[str, asyncio.Task[int]] = {}

    async def seconds_for(self, media_type: str) -> int:
        cached = self._cache.get(media_type)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        task = self._refreshing.get(media_type)
        if task is None:
            task = asyncio.create_task(self._refresh(media_type), name=f"estimate-{media_type}")
            self._refreshing[media_type] = task
        if cached is not None:
            return cached[1]  # stale for at most one query's time
        return await asyncio.shield(task)

    async def _refresh(self, media_type: str) -> int:
        try:
            estimate = await self._median(media_type)
            self._cache[media_type] = (time.monotonic(), estimate)
            return estimate
        finally:
            del self._refreshing[media_type]

    async def _median(self, media_type: str) -> int:
        default = DEFAULT_SECONDS.get(media_type, DEFAULT_SECONDS["unknown"])

        async def query() -> float | None:
            async with self._pool.acquire() as conn:
                result: float | None = await conn.fetchval(_MEDIAN_SQL, media_type, SAMPLE_SIZE)
            return result

        try:
            value = await asyncio.wait_for(query(), self._timeout)
        except DRIVER_ERRORS as exc:
            # An estimate is advisory: a database hiccup must not fail the request.
            log.warning("estimated_time falls back to the default: %s", exc)
            return default
        if value is None:
            return default
        return max(1, math.ceil(float(value)))
