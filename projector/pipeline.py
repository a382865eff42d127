"""Write batches in the background, one at a time, so that the next batch is
fetched and decoded while the previous one's transaction is in flight.

The projector's Python side (Kafka unpacking, decoding, the fold) and
PostgreSQL's side of a batch take turns otherwise; with a pipeline of depth one
they overlap, and nothing else changes: each batch is still one transaction
with its positions, batches commit in the order they were read, and two of them
are never in flight at once (so two transactions never touch the same analysis
or the same positions concurrently).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BatchPipeline(Generic[T]):
    """At most one write in flight; writes run in the order they were started.

    ``start`` hands over the next write; it must be called only after ``drain``
    returned (the previous write committed). Used as an async context manager,
    the last write is drained on a normal exit and cancelled (rolled back) when
    the block fails.
    """

    def __init__(self) -> None:
        self._inflight: asyncio.Task[T] | None = None

    @property
    def busy(self) -> bool:
        return self._inflight is not None

    def start(self, write: Coroutine[Any, Any, T]) -> None:
        if self._inflight is not None:
            write.close()
            raise RuntimeError("a batch is still in flight: drain() first")
        self._inflight = asyncio.create_task(write)

    async def drain(self) -> T | None:
        """Wait for the write in flight, if any; its result, or its error raised.

        Several callers may wait at once (the handler and a rebalance); each sees
        the outcome of the same write.
        """
        task = self._inflight
        if task is None:
            return None
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._inflight is task:
                self._inflight = None

    async def cancel(self) -> None:
        """Abandon the write in flight (its transaction rolls back)."""
        task, self._inflight = self._inflight, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def __aenter__(self) -> BatchPipeline[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.drain()
        else:
            await self.cancel()
