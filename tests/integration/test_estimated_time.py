"""estimated_time on a real PostgreSQL: the median duration of recent completed
analyses of the same media type, defaults without any, cached between queries."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from command_api.estimates import DEFAULT_SECONDS, MedianDurationEstimator
from events import AnalysisCompleted, AnalysisFailed, AnalysisRequested, new_envelope
from infra.database import create_engine, create_pool
from infra.settings import Settings
from projector.store import Record, apply_batch
from tests.conftest import BIN, free_port, scratch_database
from tests.partitions import own_partition


@pytest.fixture(scope="module")
def scratch_url(infra_env: dict[str, str]) -> Iterator[str]:
    """A migrated database of its own: the medians depend on every row in it."""
    with scratch_database(infra_env["DATABASE_URL"], "estimates") as url:
        subprocess.run(
            [str(BIN / "media-analysis"), "migrate"],
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield url


def fold(url: str, analyses: list[tuple[str, float, bool]]) -> None:
    """Fold one analysis per (media_type, seconds, completed) into the database."""
    start = datetime.now(UTC) - timedelta(hours=1)
    records: list[Record] = []
    partition = own_partition()  # offsets restart at 0 on every call
    for media_type, seconds, completed in analyses:
        analysis_id = uuid4()
        requested = AnalysisRequested(
            analysis_id=analysis_id,
            prompt="p",
            media_url="https://m.invalid/a",
            media_type=media_type,
        )
        outcome: Any = (
            AnalysisCompleted(analysis_id=analysis_id, results={})
            if completed
            else AnalysisFailed(
                analysis_id=analysis_id, error_code="x", error_message="y", retryable=False
            )
        )
        for event, at in ((requested, start), (outcome, start + timedelta(seconds=seconds))):
            env = new_envelope(event, source="/test/estimates", time=at)
            records.append(Record(partition, len(records), env))

    async def apply() -> None:
        engine = create_engine(Settings(database_url=url))
        try:
            await apply_batch(engine, records)
        finally:
            await engine.dispose()

    asyncio.run(apply())


def estimate(url: str, media_type: str, ttl: float = 0) -> int:
    async def ask() -> int:
        pool = await create_pool(Settings(database_url=url))
        try:
            return await MedianDurationEstimator(pool, ttl=ttl).seconds_for(media_type)
        finally:
            await pool.close()

    return asyncio.run(ask())


def test_without_completed_analyses_the_defaults_apply(scratch_url: str) -> None:
    assert {t: estimate(scratch_url, t) for t in DEFAULT_SECONDS} == DEFAULT_SECONDS


def test_the_estimate_is_the_median_of_completed_analyses_of_that_type(scratch_url: str) -> None:
    fold(
        scratch_url,
        [
            ("video", 10, True),
            ("video", 20, True),
            ("video", 30.2, True),
            ("video", 40, True),
            ("video", 5000, True),  # one outlier does not move a median
            ("video", 1, False),  # failed ones do not count
            ("audio", 4, True),
        ],
    )
    assert estimate(scratch_url, "video") == 31  # 30.2 s, rounded up
    assert estimate(scratch_url, "audio") == 4
    assert estimate(scratch_url, "image") == DEFAULT_SECONDS["image"]


def test_the_estimate_is_cached_for_its_ttl(scratch_url: str) -> None:
    async def twice() -> tuple[int, int, int]:
        pool = await create_pool(Settings(database_url=scratch_url))
        cached = MedianDurationEstimator(pool, ttl=300)
        fresh = MedianDurationEstimator(pool, ttl=0)
        try:
            first = await cached.seconds_for("document")
            await asyncio.to_thread(fold, scratch_url, [("document", 99, True)])
            return first, await cached.seconds_for("document"), await fresh.seconds_for("document")
        finally:
            await pool.close()

    assert asyncio.run(twice()) == (DEFAULT_SECONDS["document"], DEFAULT_SECONDS["document"], 99)


def test_an_unreachable_database_gives_the_default_quickly() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    started = datetime.now(UTC)
    assert estimate(url, "audio") == DEFAULT_SECONDS["audio"]
    assert datetime.now(UTC) - started < timedelta(seconds=3)


class CountingEstimator(MedianDurationEstimator):
    queries = 0

    async def _median(self, media_type: str) -> int:
        CountingEstimator.queries += 1
        return await super()._median(media_type)


def test_concurrent_requests_share_one_query_and_an_expired_estimate_answers_at_once(
    scratch_url: str,
) -> None:
    fold(scratch_url, [("image", 7, True)])

    async def crowd() -> tuple[list[int], int, int, float, int, int]:
        pool = await create_pool(Settings(database_url=scratch_url))
        estimator = CountingEstimator(pool, ttl=0.2)
        try:
            first = await asyncio.gather(*(estimator.seconds_for("image") for _ in range(200)))
            after_first = CountingEstimator.queries
            await asyncio.to_thread(fold, scratch_url, [("image", 7, True), ("image", 99, True)])
            await asyncio.sleep(0.3)  # expired
            began = asyncio.get_running_loop().time()
            stale = await estimator.seconds_for("image")  # the old value, not a wait
            took = asyncio.get_running_loop().time() - began
            while estimator._refreshing:  # the one background refresh
                await asyncio.sleep(0.01)
            return (
                first,
                after_first,
                stale,
                took,
                CountingEstimator.queries,
                (await estimator.seconds_for("image")),
            )
        finally:
            await pool.close()

    first, after_first, stale, took, queries, refreshed = asyncio.run(crowd())
    assert first == [7] * 200
    assert after_first == 1
    assert stale == 7
    assert took < 0.05
    assert queries == 2
    assert refreshed == 7  # median of 7, 7, 99
