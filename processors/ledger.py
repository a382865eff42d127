"""What the log already says about an analysis, read from the projection.

A request can be delivered more than once (a processor died before committing
its offset, or its partition moved). Before running it, the processor asks the
ledger whether the analysis already has a terminal state (completed, failed,
deleted) and how many runs it has had. The answer is exact once the projector
has applied the partition up to the end offset seen when asking: every event of
an analysis lives in its one partition, so nothing about it can be missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events import EVENTS_TOPIC, AnalysisStarted, MediaAnalysisError
from media_analysis.database import single_statement_reads
from media_analysis.read_model import analysis_event, analysis_request, projection_position

log = logging.getLogger(__name__)

PROJECTION = "analysis_request"
"""The projector's name for its positions in ``projection_position``."""

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
        self._engine = engine
        # Position polls are single reads: no BEGIN/ROLLBACK round trips around them.
        self._position_reads = single_statement_reads(engine)
        self._catch_up_seconds = catch_up_seconds

    async def _position(self, partition: int) -> int:
        query = select(projection_position.c.next_offset).where(
            projection_position.c.projection == PROJECTION,
            projection_position.c.topic == EVENTS_TOPIC,
            projection_position.c.partition == partition,
        )
        async with self._position_reads.connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    async def history(self, analysis_id: UUID, partition: int, end_offset: int) -> AnalysisHistory:
        try:
            return await self._history(analysis_id, partition, end_offset)
        except (SQLAlchemyError, OSError) as exc:
            raise LedgerUnavailable(f"cannot read the projection: {exc}") from exc

    async def _history(self, analysis_id: UUID, partition: int, end_offset: int) -> AnalysisHistory:
        deadline = time.monotonic() + self._catch_up_seconds
        caught_up = await self._position(partition) >= end_offset
        while not caught_up and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            caught_up = await self._position(partition) >= end_offset
        if not caught_up:
            log.warning(
                "projection of partition %s is behind offset %s; deciding on what it has",
                partition,
                end_offset,
            )
        status_query = select(analysis_request.c.status).where(analysis_request.c.id == analysis_id)
        runs_query = select(func.count()).where(
            analysis_event.c.analysis_id == analysis_id,
            analysis_event.c.type == AnalysisStarted.TYPE,
        )
        async with self._engine.connect() as conn:
            status = (await conn.execute(status_query)).scalar()
            runs = int((await conn.execute(runs_query)).scalar() or 0)
        return AnalysisHistory(status=status, runs=runs, caught_up=caught_up)
