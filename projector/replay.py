"""Replay the event log into a set of projection tables, up to given offsets.

The replay reads with a plain consumer that belongs to no group (it assigns
every partition itself), starts each partition at the position stored with the
target tables, and applies batches through the projector's own one-transaction
store, so a replayed table is built by exactly the code that builds the live one
and an interrupted replay resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from events import EVENTS_TOPIC, MediaAnalysisError
from infra.database import create_engine
from infra.kafka_security import kafka_connection
from infra.settings import Settings
from projector.consumer import to_records
from projector.pipeline import BatchPipeline
from projector.store import Record, apply_batch, stored_positions

Offsets = dict[int, int]
"""Partition -> offset."""

BATCH = 500
TWO_WRITERS_ABOVE = 20_000
"""Records to replay from which a second writer process pays for its start-up."""


class EventTopicMissing(MediaAnalysisError):
    """The event topic does not exist on this cluster."""


class ReplayWorkerFailed(MediaAnalysisError):
    """The child process replaying half the partitions failed (its error is on stderr)."""


class LogShorterThanProjection(MediaAnalysisError):
    """A projection claims positions beyond the end of the log."""


def replay_engine(settings: Settings, pool_size: int) -> AsyncEngine:
    """An engine for replaying into fresh tables.

    Their statements are prepared while the tables are young, so they are planned
    with their parameters on every execution (``database.CUSTOM_PLANS``): a
    generic plan made on a few rows would keep the batch read of rows by id a
    sequential scan while the rebuilt table grows.

    Their commits do not wait for the disk (``database.ASYNCHRONOUS_COMMIT``):
    nobody reads the tables until they are switched in, a crash of PostgreSQL
    loses only whole batches with their positions (the replay resumes before
    them), and the switch itself commits durably, which makes every batch before
    it durable too (``projection_schema.swap_in``), so a rebuild does not wait
    for each batch's flush."""
    return create_engine(settings, pool_size=pool_size, custom_plans=True, asynchronous_commit=True)


@asynccontextmanager
async def log_reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer assigned to every partition of the event topic, in no group."""
    # Subscribed without a group, the consumer is assigned every partition itself.
    consumer = AIOKafkaConsumer(
        EVENTS_TOPIC,
        **kafka_connection(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=settings.kafka_request_timeout_ms,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        if not consumer.assignment():
            raise EventTopicMissing(f"topic {EVENTS_TOPIC} has no partitions")
        yield consumer
    finally:
        await consumer.stop()


async def end_offsets(consumer: AIOKafkaConsumer) -> Offsets:
    """Where each partition's log ends now."""
    ends = await consumer.end_offsets(list(consumer.assignment()))
    return {tp.partition: int(offset) for tp, offset in ends.items()}


async def remaining(engine: AsyncEngine, targets: Offsets) -> int:
    """Records between the positions stored in ``engine``'s tables and ``targets``."""
    stored = await stored_positions(engine)
    return sum(max(0, end - stored.get(p, 0)) for p, end in targets.items())


async def replay(
    engine: AsyncEngine,
    consumer: AIOKafkaConsumer,
    targets: Offsets,
    on_batch: Callable[[int], None] = lambda n: None,
) -> int:
    """Apply every record below ``targets`` not yet applied to ``engine``'s tables.

    Returns how many records were read; ``on_batch`` hears each batch's size.
    """
    stored = await stored_positions(engine)
    pending: dict[TopicPartition, int] = {}
    for tp in consumer.assignment():
        start, end = stored.get(tp.partition, 0), targets.get(tp.partition, 0)
        if start < end:
            consumer.seek(tp, start)
            pending[tp] = end
    # Paused partitions are not fetched: only what this replay needs is read.
    consumer.pause(*(tp for tp in consumer.assignment() if tp not in pending))
    consumer.resume(*pending)
    read = 0
    # While one batch's transaction is in flight, the next is fetched and decoded.
    async with BatchPipeline[int]() as pipeline:
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=BATCH)
            raw: list[Any] = []
            for tp, messages in fetched.items():
                end = pending[tp]
                raw.extend(m for m in messages if m.offset < end)
                if messages and messages[-1].offset >= end - 1:
                    del pending[tp]
                    consumer.pause(tp)
            if not fetched:
                await _settle(consumer, pending)
            records, _poison = to_records(raw)  # poison was sent to the DLQ when first seen
            applied = await pipeline.drain()
            if applied is not None:
                on_batch(applied)
            pipeline.start(_apply(engine, records))
            read += len(records)
        applied = await pipeline.drain()
        if applied is not None:
            on_batch(applied)
    return read


async def replay_in_two(
    engine: AsyncEngine,
    schema: str,
    consumer: AIOKafkaConsumer,
    settings: Settings,
    targets: Offsets,
    on_batch: Callable[[int], None] = lambda n: None,
    *,
    two_writers_above: int = TWO_WRITERS_ABOVE,
) -> int:
    """``replay`` into ``schema`` (``engine`` translated to it), by two writers
    when there is enough to do: a child process takes about half the remaining
    records' partitions, this process the others. Returns how many writers ran.

    Two writers on disjoint partitions keep every guarantee of one: each
    partition's records are applied in order by one writer, with its positions;
    an analysis lives in one partition, so its row and audit rows have one
    writer; the shared history counts only add and subtract (in one lock order).
    The projector's Python side is what bounds one writer, so a second process
    puts the machine's second core to work.
    """
    stored = await stored_positions(engine)
    left = {p: max(0, end - stored.get(p, 0)) for p, end in targets.items()}
    if sum(left.values()) < two_writers_above or sum(1 for n in left.values() if n) < 2:
        await replay(engine, consumer, targets, on_batch)
        return 1
    mine: Offsets = {}
    theirs: Offsets = {}
    for p in sorted(left, key=lambda p: -left[p]):  # the larger partitions first, greedily
        side = mine if sum(left[q] for q in mine) <= sum(left[q] for q in theirs) else theirs
        side[p] = targets[p]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "projector.replay_worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdin is not None
    assert child.stdout is not None
    orders = {
        "database_url": settings.database_url,
        "kafka_bootstrap_servers": settings.kafka_bootstrap_servers,
        "schema": schema,
        "targets": theirs,
    }
    child.stdin.write(json.dumps(orders).encode())
    await child.stdin.drain()
    child.stdin.close()

    async def follow(stdout: asyncio.StreamReader) -> None:
        async for line in stdout:
            on_batch(int(line))

    try:
        await asyncio.gather(replay(engine, consumer, mine, on_batch), follow(child.stdout))
        code = await child.wait()
    except BaseException:
        if child.returncode is None:
            child.kill()
            await child.wait()
        raise
    if code != 0:
        raise ReplayWorkerFailed(f"the second replay writer exited with status {code}")
    return 2


async def _apply(engine: AsyncEngine, records: list[Record]) -> int:
    """Apply one batch; how many records it held (for the progress display)."""
    await apply_batch(engine, records)
    return len(records)


async def _settle(consumer: AIOKafkaConsumer, pending: dict[TopicPartition, int]) -> None:
    """Nothing came: drop partitions already past their target (offset gaps), fail
    on targets the log cannot reach, and keep waiting for the rest."""
    for tp, end in list(pending.items()):
        if await consumer.position(tp) >= end:
            del pending[tp]
    ends = await consumer.end_offsets(list(pending))
    for tp, end in pending.items():
        if ends[tp] < end:
            raise LogShorterThanProjection(
                f"partition {tp.partition} ends at offset {ends[tp]}, but the projection "
                f"is at {end}: the log lost records or this is another cluster"
            )
