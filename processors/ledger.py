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
from sqlalchemy.ext.asyncio import AsyncEngine

from events import AnalysisStarted, MediaAnalysisError
from infra.database import DRIVER_ERRORS, single_statement_reads
from read_model.positions import ProjectionWatermark
from read_model.tables import analysis_event, analysis_request

log = logging.getLogger(__name__)

POSITION_POLL_SECONDS = 0.01
"""How often the projection's positions are read while an analysis waits for
them and the projector's notices cannot be heard (see ``ProjectionWatermark``)."""

TERMINAL = frozenset({"completed", "failed", "deleted"})
CLOSE_WAIT_SECONDS = 5.0

HISTORY_SQL = (
    f"SELECT (SELECT status FROM {analysis_request.name} WHERE id = $1) AS status,"  # noqa: S608
    f" (SELECT count(*) FROM {analysis_event.name}"
    " WHERE analysis_id = $1 AND type = $2) AS runs"
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
    """The ledger on the projector's tables in PostgreSQL.

    ``engine`` serves the projection watermark; the read itself, one per analysis,
    goes through a plain asyncpg pool made by ``read_pool`` on first use: through
    SQLAlchemy's async layer (a greenlet per call, the statement built and its
    cache key computed each time) it cost 0.49 ms of the processor's CPU, on
    asyncpg with a prepared statement 0.07 ms (BENCHMARKS.md).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        read_pool: Callable[[], Awaitable[asyncpg.Pool]],
        *,
        catch_up_seconds: float = 10.0,
    ) -> None:
        # The positions as the projector announces them: an analysis starts when
        # the batch it waits for commits, not at the next 10 ms poll. One watcher
        # for every analysis waiting, not one loop each. Single reads: no
        # BEGIN/ROLLBACK round trips around its polls.
        self._engine = engine
        self._watermark = ProjectionWatermark(
            single_statement_reads(engine), poll_interval=POSITION_POLL_SECONDS, listen=True
        )
        self._make_pool = read_pool
        self._pool: asyncpg.Pool | None = None
        self._pool_made = asyncio.Lock()
        self._catch_up_seconds = catch_up_seconds

    async def history(self, analysis_id: UUID, partition: int, end_offset: int) -> AnalysisHistory:
        try:
            return await self._history(analysis_id, partition, end_offset)
        except DRIVER_ERRORS as exc:
            raise LedgerUnavailable(f"cannot read the projection: {exc}") from exc

    async def close(self) -> None:
        """Stop watching and listening, and close the connections (a read still
        holding one after ``CLOSE_WAIT_SECONDS`` has its connection terminated)."""
        await self._watermark.close()
        async with self._pool_made:
            pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), CLOSE_WAIT_SECONDS)
            except TimeoutError:
                pool.terminate()
        await self._engine.dispose()

    async def _reads(self) -> asyncpg.Pool:
        if self._pool is not None:  # every read after the first: no lock
            return self._pool
        async with self._pool_made:  # the first reads wait for one pool, not one each
            if self._pool is None:
                self._pool = await self._make_pool()
            return self._pool

    async def _history(self, analysis_id: UUID, partition: int, end_offset: int) -> AnalysisHistory:
        caught_up = await self._watermark.wait_caught_up(
            {partition: end_offset}, self._catch_up_seconds
        )
        if not caught_up:
            log.warning(
                "projection of partition %s is behind offset %s; deciding on what it has",
                partition,
                end_offset,
            )
        async with (await self._reads()).acquire() as conn:
            row = await conn.fetchrow(HISTORY_SQL, analysis_id, AnalysisStarted.TYPE)
        return AnalysisHistory(status=row["status"], runs=int(row["runs"]), caught_up=caught_up)
