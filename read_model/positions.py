"""Read-your-writes without making writers wait for the projector.

A command answers once Kafka has acknowledged its event (acks=all), not once the
projector has applied it. The guarantee moves to the read that could observe the
difference: a read that finds *nothing* for an id may be racing the projector,
so before it answers "unknown" it waits until the projection has applied
everything the log held when the read began, then looks again
(:class:`CatchUp`). Reads that find their row, nearly all of them, pay nothing.

Why this is enough: a 202 means the event is acknowledged by every in-sync
replica, so it lies below the partition's end offset read by any request that
starts after the 202. A read that started before the 202 was never promised it.

Pieces:

- :class:`LogEnds` reads the end offset of every partition of the event topic;
  concurrent readers share one fetch, but only a fetch that *started after*
  they asked, so nobody gets ends from before their own write was acknowledged.
- :class:`~read_model.watermark.ProjectionWatermark` knows how far the
  projection has applied each partition (``read_model.watermark``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from events import EVENTS_TOPIC, MediaAnalysisError
from read_model.watermark import Offsets, ProjectionWatermark

T = TypeVar("T")


class ProjectionBehind(MediaAnalysisError):
    """The projection could not be shown to have caught up with the log in time
    (Kafka unreachable, or the projector stopped or far behind)."""


class LogEnds:
    """End offsets of the event topic's partitions, from Kafka."""

    def __init__(self, connection: Mapping[str, Any], *, request_timeout_ms: int = 3000) -> None:
        """``connection``: aiokafka's connection options (``kafka_connection(settings)``)."""
        self._connection = connection
        self._timeout_ms = request_timeout_ms
        self._clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None
        self._next: asyncio.Future[Offsets] | None = None
        self._runner: asyncio.Task[None] | None = None

    async def fetch(self) -> Offsets:
        """One round of questions to Kafka: the partitions, then their end offsets."""
        if self._clients is None:
            admin = AIOKafkaAdminClient(**self._connection, request_timeout_ms=self._timeout_ms)
            consumer = AIOKafkaConsumer(
                **self._connection,
                enable_auto_commit=False,
                request_timeout_ms=self._timeout_ms,
            )
            self._clients = (admin, consumer)
            await admin.start()
            await consumer.start()
        admin, consumer = self._clients
        try:
            (topic,) = await admin.describe_topics([EVENTS_TOPIC])
            wanted = [TopicPartition(EVENTS_TOPIC, p["partition"]) for p in topic["partitions"]]
            ends = await consumer.end_offsets(wanted)
        except BaseException:
            await self.close()  # a fresh client next time, in case this one is wedged
            raise
        return {tp.partition: offset for tp, offset in ends.items()}

    async def after_now(self) -> Offsets:
        """End offsets read by a fetch that started after this call."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        future = self._next
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._serve(), name="log-ends")
        return await asyncio.shield(future)

    async def _serve(self) -> None:
        while self._next is not None:
            future, self._next = self._next, None  # later callers wait for the next round
            try:
                future.set_result(await self.fetch())
            except Exception as exc:  # handed to every caller of this round
                future.set_exception(exc)
                future.exception()  # retrieved here too: a caller may have given up

    async def close(self) -> None:
        clients, self._clients = self._clients, None
        if clients is not None:
            await clients[0].close()
            await clients[1].stop()


class CatchUp:
    """Before a read answers "unknown": wait for the projection to catch up with
    the log as it was when the read began."""

    def __init__(self, ends: LogEnds, watermark: ProjectionWatermark, within: float) -> None:
        self._ends = ends
        self._watermark = watermark
        self._within = within

    async def wait(self) -> None:
        """Return once caught up; raise ProjectionBehind when that cannot be shown
        within the read-your-writes timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._within
        try:
            ends = await asyncio.wait_for(self._ends.after_now(), self._within)
        except Exception as exc:  # Kafka unreachable or slow: the miss cannot be confirmed
            raise ProjectionBehind(
                f"cannot read the event log's end offsets ({type(exc).__name__}: {exc})"
            ) from exc
        if not await self._watermark.wait_caught_up(ends, max(0.0, deadline - loop.time())):
            raise ProjectionBehind(
                f"the projection has not caught up with the event log within {self._within:g}s"
            )

    async def close(self) -> None:
        await self._watermark.close()
        await self._ends.close()


async def look_up_with_catch_up(
    read: Callable[[], Awaitable[T | None]], catch_up: CatchUp
) -> T | None:
    """``read()``, and when it finds nothing, ``read()`` again once caught up."""
    found = await read()
    if found is not None:
        return found
    await catch_up.wait()
    return await read()
