"""How far the projection has applied the log: the positions the projector
stores in ``projection_position`` (in the same transaction as the rows), and
waits for them.

:class:`ProjectionWatermark` polls the positions while anyone waits, one query
per tick however many wait; waiters sit in one heap per partition, ordered by
offset. A watermark that always has waiters (a processor's) can instead listen
for the projector's notices (:class:`PositionNotices`): it learns each batch's
positions as the batch commits and polls only as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from events import EVENTS_TOPIC
from read_model.tables import POSITIONS_CHANNEL, PROJECTION, read_positions_notice

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 0.5
"""The longest pause between position reads while they fail."""
COMPACT_ABOVE = 1024
"""Heaps larger than this drop their timed-out waiters on the next tick."""
FALLBACK_POLL_SECONDS = 0.25
"""How often a watermark that hears the projector's notices still reads the
positions: for positions saved without a notice (a rebuild's switch, a projector
of an older release during an upgrade)."""
NOTICES_APPLICATION = "media-analysis position notices"
"""``application_name`` of the listening connections, as ``pg_stat_activity`` shows them."""
LISTEN_RETRY_SECONDS = 5.0
"""After listening failed, how long a watermark only polls before trying again."""

Offsets = dict[int, int]
"""Partition -> offset."""

_POSITIONS_SQL = (
    "SELECT partition, next_offset FROM projection_position WHERE projection = $1 AND topic = $2"
)


async def applied_positions(conn: asyncpg.Connection) -> Offsets:
    """The next offset the live projection will apply, per partition of the event topic."""
    rows = await conn.fetch(_POSITIONS_SQL, PROJECTION, EVENTS_TOPIC)
    return {row["partition"]: row["next_offset"] for row in rows}


class PositionNotices:
    """A connection of its own that LISTENs for the projector's position notices
    (``read_model.POSITIONS_CHANNEL``) and hands each one's positions on."""

    def __init__(self, dsn: str, on_positions: Callable[[Offsets], None]) -> None:
        self._dsn = dsn
        self._on_positions = on_positions
        self._conn: asyncpg.Connection | None = None
        self._retry_at = 0.0
        self._failures = 0
        self.lost = asyncio.Event()
        """Set when the connection closes; whoever relies on the notices polls again."""

    async def listening(self) -> bool:
        """True while notices are heard: connects and LISTENs when not, at most
        every :data:`LISTEN_RETRY_SECONDS` after a failure (polling serves meanwhile)."""
        if self._conn is not None and not self._conn.is_closed():
            return True
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            return False
        try:
            conn: asyncpg.Connection = await asyncpg.connect(
                self._dsn, timeout=5, server_settings={"application_name": NOTICES_APPLICATION}
            )
            try:
                await conn.add_listener(POSITIONS_CHANNEL, self._notified)
            except BaseException:
                conn.terminate()
                raise
        except Exception as exc:
            if not self._failures:  # once per outage
                log.warning("cannot listen for projection positions, polling instead: %s", exc)
            self._failures += 1
            self._retry_at = loop.time() + LISTEN_RETRY_SECONDS
            return False
        conn.add_termination_listener(self._closed)
        self.lost.clear()
        self._conn, self._failures = conn, 0
        return True

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        positions = read_positions_notice(payload, PROJECTION, EVENTS_TOPIC)
        if positions:
            self._on_positions(positions)

    def _closed(self, _conn: Any) -> None:
        self.lost.set()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
                await conn.close(timeout=2)


_Waiter = tuple[int, int, asyncio.Future[None]]


class ProjectionWatermark:
    """Wait until the projection has applied given log positions.

    ``listen_dsn``: learn the positions from the projector's notices (on a
    connection of its own to that database) as its batches commit, and poll
    every :data:`FALLBACK_POLL_SECONDS` only; while the notices
    cannot be heard, poll every ``poll_interval`` as without them. For a process
    whose waits never stop (a processor asks before every analysis): a wait ends
    when the batch it waits for commits, not at the next tick, and the process
    reads the table four times a second instead of a hundred. A process that
    waits rarely (the APIs) polls only while it waits.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        poll_interval: float = 0.005,
        listen_dsn: str | None = None,
    ) -> None:
        self._pool = pool
        self._poll_interval = poll_interval
        self._applied: Offsets = {}
        self._waiting: dict[int, list[_Waiter]] = {}
        self._sequence = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._notices = PositionNotices(listen_dsn, self._heard) if listen_dsn is not None else None

    async def wait_applied(self, partition: int, offset: int, within: float) -> bool:
        """True once the projection has applied ``offset`` of ``partition``;
        False after ``within`` seconds."""
        if self._applied.get(partition, -1) > offset:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heap = self._waiting.setdefault(partition, [])
        heapq.heappush(heap, (offset, next(self._sequence), future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="projection-watermark")
        try:
            await asyncio.wait_for(asyncio.shield(future), within)
            return True
        except TimeoutError:
            future.cancel()
            return False

    async def wait_caught_up(self, ends: Mapping[int, int], within: float) -> bool:
        """True once every partition's applied position has reached ``ends``."""
        waits = [self.wait_applied(p, end - 1, within) for p, end in ends.items() if end > 0]
        return all(await asyncio.gather(*waits))

    def _advance(self, positions: Mapping[int, int]) -> None:
        """Take newer positions; a projection's positions only move forward, and a
        poll answered after a later notice must not move them back."""
        for partition, offset in positions.items():
            if offset > self._applied.get(partition, -1):
                self._applied[partition] = offset

    def _heard(self, positions: Offsets) -> None:
        self._advance(positions)
        self._wake()

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
        failures = 0
        notices = self._notices
        while any(self._waiting.values()):
            # Listening starts before the poll: a batch committed in between is
            # announced, one committed before is in the poll's answer.
            listening = notices is not None and await notices.listening()
            try:
                async with self._pool.acquire() as conn:
                    self._advance(await applied_positions(conn))
                failures = 0
            except Exception as exc:  # waiters time out on their own; keep watching
                if not failures:  # once per outage, not once per tick
                    log.warning("cannot read projection positions: %s", exc)
                failures += 1
            self._wake()
            # While PostgreSQL is unreachable, ask less and less often (at most 0.5 s).
            interval = FALLBACK_POLL_SECONDS if listening else self._poll_interval
            pause = min(interval * 2 ** min(failures, 16), max(interval, MAX_RETRY_SECONDS))
            if listening and notices is not None:
                # A lost listening connection ends the pause: poll, and listen again.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(notices.lost.wait(), pause)
            else:
                await asyncio.sleep(pause)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._notices is not None:
            await self._notices.close()
