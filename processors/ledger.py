"""What the log already says about an analysis, read from the projection.

A request can be delivered more than once (a processor died before committing
its offset, or its partition moved). Before running it, the processor asks the
ledger whether the analysis already has a terminal state (completed, failed,
deleted) and how many runs it has had. The answer is exact once the projector
has applied the partition up to the high watermark of the fetch that brought the
request (``PartitionControl.end_offset``): every event of an analysis lives in
its one partition, and every event of an earlier run was acknowledged before
that fetch, so nothing about it can be missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import asyncpg

from events import AnalysisStarted, MediaAnalysisError
from infra.database import DRIVER_ERRORS
from read_model.fold import TERMINAL
from read_model.watermark import ProjectionWatermark

log = logging.getLogger(__name__)

POSITION_POLL_SECONDS = 0.01
"""How often the projection's positions are read while an analysis waits for
them and the projector's notices cannot be heard (see ``ProjectionWatermark``)."""

CLOSE_WAIT_SECONDS = 5.0

HISTORY_SQL = (
    "SELECT (SELECT status FROM analysis_request WHERE id = $1) AS status,"
    " (SELECT count(*) FROM analysis_event WHERE analysis_id = $1 AND type = $2) AS runs"
)
"""The analysis's status and its runs (AnalysisStarted events), in one statement
and so one snapshot."""


class LedgerUnavailable(MediaAnalysisError):
    """The projection could not be read (PostgreSQL down or unreachable)."""


@dataclass(frozen=True, slots=True)
class AnalysisHistory:
    status: str | None
    runs: int
    caught_up: bool

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class Ledger(Protocol):
    async def history(self, analysis_id: UUID, partition: int, end_offset: int) -> AnalysisHistory:
        """The analysis's status and number of runs, once the partition is projected."""


class ProjectionLedger:
    """The ledger on the projector's tables in PostgreSQL, through one asyncpg
    pool made by ``make_pool`` on first use (the processor's composition root
    runs before its event loop): the reads, one per analysis, and the projection
    watermark's polls. ``listen_dsn``: where the watermark listens for the
    projector's notices, so an analysis starts when the batch it waits for
    commits, not at the next poll; one watcher for every analysis waiting.
    """

    def __init__(
        self,
        make_pool: Callable[[], Awaitable[asyncpg.Pool]],
        listen_dsn: str,
        *,
        catch_up_seconds: float = 10.0,
    ) -> None:
        self._make_pool = make_pool
        self._listen_dsn = listen_dsn
        self._reads: tuple[asyncpg.Pool, ProjectionWatermark] | None = None
        self._made = asyncio.Lock()
        self._catch_up_seconds = catch_up_seconds

    async def history(self, analysis_id: UUID, partition: int, end_offset: int) -> AnalysisHistory:
        try:
            return await self._history(analysis_id, partition, end_offset)
        except DRIVER_ERRORS as exc:
            raise LedgerUnavailable(f"cannot read the projection: {exc}") from exc

    async def ping(self) -> None:
        """Returns when PostgreSQL answers through the ledger's pool (readiness)."""
        pool, _ = await self._connected()
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        """Stop watching and listening, and close the connections (a read still
        holding one after ``CLOSE_WAIT_SECONDS`` has its connection terminated)."""
        async with self._made:
            reads, self._reads = self._reads, None
        if reads is None:
            return
        pool, watermark = reads
        await watermark.close()
        try:
            await asyncio.wait_for(pool.close(), CLOSE_WAIT_SECONDS)
        except TimeoutError:
            pool.terminate()

    async def _connected(self) -> tuple[asyncpg.Pool, ProjectionWatermark]:
        if self._reads is not None:  # every read after the first: no lock
            return self._reads
        async with self._made:  # the first reads wait for one pool, not one each
            if self._reads is None:
                pool = await self._make_pool()
                watermark = ProjectionWatermark(
                    pool, poll_interval=POSITION_POLL_SECONDS, listen_dsn=self._listen_dsn
                )
                self._reads = (pool, watermark)
            return self._reads

    async def _history(self, analysis_id: UUID, partition: int, end_offset: int) -> AnalysisHistory:
        pool, watermark = await self._connected()
        caught_up = await watermark.wait_caught_up({partition: end_offset}, self._catch_up_seconds)
        if not caught_up:
            log.warning(
                "projection of partition %s is behind offset %s; deciding on what it has",
                partition,
                end_offset,
            )
        async with pool.acquire() as conn:
            row = await conn.fetchrow(HISTORY_SQL, analysis_id, AnalysisStarted.TYPE)
        return AnalysisHistory(status=row["status"], runs=int(row["runs"]), caught_up=caught_up)
