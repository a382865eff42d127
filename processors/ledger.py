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

import logging
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events import AnalysisStarted, MediaAnalysisError
from media_analysis.database import single_statement_reads
from media_analysis.read_model import analysis_event, analysis_request
from media_analysis.read_your_writes import ProjectionWatermark

log = logging.getLogger(__name__)

POSITION_POLL_SECONDS = 0.01
"""How often the projection's positions are read while an analysis waits for
them and the projector's notices cannot be heard (see ``ProjectionWatermark``)."""

TERMINAL = frozenset({"completed", "failed", "deleted"})


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
    """The ledger on the projector's tables in PostgreSQL."""

    def __init__(self, engine: AsyncEngine, *, catch_up_seconds: float = 10.0) -> None:
        # Single reads: no BEGIN/ROLLBACK round trips around them.
        self._reads = single_statement_reads(engine)
        # The positions as the projector announces them: an analysis starts when
        # the batch it waits for commits, not at the next 10 ms poll. One watcher
        # for every analysis waiting, not one loop each.
        self._watermark = ProjectionWatermark(
            self._reads, poll_interval=POSITION_POLL_SECONDS, listen=True
        )
        self._catch_up_seconds = catch_up_seconds

    async def history(self, analysis_id: UUID, partition: int, end_offset: int) -> AnalysisHistory:
        try:
            return await self._history(analysis_id, partition, end_offset)
        except (SQLAlchemyError, OSError) as exc:
            raise LedgerUnavailable(f"cannot read the projection: {exc}") from exc

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
        runs = (
            select(func.count())
            .where(
                analysis_event.c.analysis_id == analysis_id,
                analysis_event.c.type == AnalysisStarted.TYPE,
            )
            .scalar_subquery()
        )
        status = (
            select(analysis_request.c.status)
            .where(analysis_request.c.id == analysis_id)
            .scalar_subquery()
        )
        async with self._reads.connect() as conn:  # one statement, one snapshot
            row = (await conn.execute(select(status.label("status"), runs.label("runs")))).one()
        return AnalysisHistory(status=row.status, runs=int(row.runs), caught_up=caught_up)
