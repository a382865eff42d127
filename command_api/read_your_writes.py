"""Read-your-writes: the command side answers only once the projection has
applied the event it just recorded (bounded by a timeout).

One watcher task polls ``projection_position`` while requests wait, so the
database sees one small query per tick however many requests are waiting.
Waiters sit in one heap per partition, ordered by offset, so each tick wakes
exactly the satisfied ones without scanning the rest.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from command_api.analysis_lookup import AnalysisLookup, ReadModelUnavailable
from command_api.publisher import LogPosition
from events import EVENTS_TOPIC
from media_analysis.read_model import projection_position

log = logging.getLogger(__name__)

PROJECTION = "analysis_request"
COMPACT_ABOVE = 1024
"""Heaps larger than this drop their timed-out waiters on the next tick."""

_Waiter = tuple[int, int, asyncio.Future[None]]


class ProjectionWatermark:
    def __init__(self, engine: AsyncEngine, *, poll_interval: float = 0.005) -> None:
        self._engine = engine
        self._poll_interval = poll_interval
        self._applied: dict[int, int] = {}
        self._waiting: dict[int, list[_Waiter]] = {}
        self._sequence = itertools.count()
        self._task: asyncio.Task[None] | None = None

    async def wait_applied(self, position: LogPosition, within: float) -> bool:
        """True once the projection has applied ``position``; False after ``within`` seconds."""
        if self._is_applied(position):
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heap = self._waiting.setdefault(position.partition, [])
        heapq.heappush(heap, (position.offset, next(self._sequence), future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="projection-watermark")
        try:
            await asyncio.wait_for(asyncio.shield(future), within)
            return True
        except TimeoutError:
            future.cancel()
            return False

    def _is_applied(self, position: LogPosition) -> bool:
        return self._applied.get(position.partition, -1) > position.offset

    def _wake(self) -> None:
        for partition, heap in self._waiting.items():
            applied = self._applied.get(partition, -1)
            while heap and (heap[0][0] < applied or heap[0][2].done()):
                _, _, future = heapq.heappop(heap)
                if not future.done():
                    future.set_result(None)
            if len(heap) > COMPACT_ABOVE:
                heap[:] = [w for w in heap if not w[2].done()]
                heapq.heapify(heap)

    async def _watch(self) -> None:
        query = select(projection_position.c.partition, projection_position.c.next_offset).where(
            projection_position.c.projection == PROJECTION,
            projection_position.c.topic == EVENTS_TOPIC,
        )
        while any(self._waiting.values()):
            try:
                async with self._engine.connect() as conn:
                    rows = (await conn.execute(query)).all()
                self._applied = {row.partition: row.next_offset for row in rows}
            except Exception as exc:  # waiters time out on their own; keep watching
                log.warning("cannot read projection positions: %s", exc)
            self._wake()
            await asyncio.sleep(self._poll_interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def wait_visible(lookup: AnalysisLookup, analysis_id: UUID, within: float) -> bool:
    """True once the projection shows ``analysis_id``; False after ``within`` seconds.

    For a repeated idempotent request, whose event an earlier request recorded
    at a position this one does not know.
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            if await lookup.status_of(analysis_id) is not None:
                return True
        except ReadModelUnavailable:
            pass  # bounded by the deadline like the watermark wait
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.02)
