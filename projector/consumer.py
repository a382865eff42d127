"""FastStream entrypoint of the projector: consume the log in batches, apply each
batch in one transaction, and send undecodable records to the DLQ.

Positions live in PostgreSQL with the rows; on every partition assignment the
consumer seeks to them, so the group's committed offsets are only a hint.
Database outages pause consumption (retry with backoff) rather than skip.

Batches go through a ``BatchPipeline``: the handler decodes batch N+1 while
batch N's transaction is in flight, and returns once N+1's has started. A write
that fails for any reason but the database (those are retried in place) makes
the next handler call rewind every partition to the stored positions, so the
batch is read again rather than skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events import EVENTS_TOPIC, EventDecodeError, decode_with_json
from infra.dead_letter import send_to_dead_letter
from infra.record_parser import raw_records, tolerant_parser
from projector.pipeline import BatchPipeline
from projector.store import (
    BatchOutcome,
    Record,
    StoreUnavailable,
    apply_batch,
    stored_positions,
)

log = logging.getLogger(__name__)

GROUP_ID = "media-analysis-projector"
MAX_BACKOFF_SECONDS = 5.0
MAX_RECORDS = 500
FETCH_MIN_BYTES = 256 * 1024
FETCH_MAX_WAIT_MS = 20


class SeekToStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, move the consumer to the positions stored with the rows."""

    def __init__(self, engine: AsyncEngine, pipeline: BatchPipeline[BatchOutcome]) -> None:
        self._engine = engine
        self._pipeline = pipeline
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Let the batch in flight commit first, so the next owner of these
        # partitions starts from its positions. Its failure needs nothing here:
        # the assignment that follows seeks to the stored positions anyway.
        with contextlib.suppress(Exception):
            await self._pipeline.drain()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.rewind(assigned)

    async def rewind(self, partitions: set[TopicPartition]) -> None:
        """Seek ``partitions`` to the positions stored with the rows."""
        consumer = self.subscriber.consumer
        positions = await _retry_db(lambda: stored_positions(self._engine), "read positions")
        for tp in partitions:
            offset = positions.get(tp.partition, 0)
            consumer.seek(tp, offset)
            log.info("projector: partition %s resumes at offset %s", tp.partition, offset)


async def _retry_db(operation: Any, what: str) -> Any:
    delay = 0.1
    while True:
        try:
            return await operation()
        except (SQLAlchemyError, StoreUnavailable, OSError) as exc:
            log.warning("projector: cannot %s (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)


def to_records(raw: Sequence[Any]) -> tuple[list[Record], list[tuple[Any, str]]]:
    """Decode raw Kafka records; return the records and the poison ones with reasons."""
    records: list[Record] = []
    poison: list[tuple[Any, str]] = []
    for msg in raw:
        try:
            decoded = decode_with_json(msg.value, msg.headers)
        except EventDecodeError as exc:
            poison.append((msg, f"{exc.reason}: {exc}"))
            records.append(Record(msg.partition, msg.offset, None))
            continue
        records.append(Record(msg.partition, msg.offset, decoded.envelope, decoded.data_json))
    return records, poison


@dataclass(frozen=True, slots=True)
class BatchHandler:
    """What the projector does with one consumed batch; its ports passed in.

    Decodes the batch while the previous one's transaction is in flight, waits
    for that one, dead-letters the poison and starts this batch's write. Any
    failure before the write has started (the previous write's, a DLQ publish)
    rewinds the consumer to the stored positions first, so nothing that did not
    commit is skipped: it is read again.
    """

    pipeline: BatchPipeline[BatchOutcome]
    write: Callable[[list[Record]], Coroutine[Any, Any, BatchOutcome]]
    dead_letter: Callable[[Any, str], Awaitable[None]]
    rewind: Callable[[], Awaitable[None]]
    committed: Callable[[BatchOutcome], Awaitable[None]]

    async def __call__(self, batch: Sequence[Any]) -> None:
        records, poison = to_records(batch)
        try:
            done = await self.pipeline.drain()
            for msg, reason in poison:
                await self.dead_letter(msg, reason)
            self.pipeline.start(self.write(records))
        except Exception:
            await self.rewind()
            raise  # FastStream logs it; the records come again after the rewind
        if done is not None:
            await self.committed(done)


def register(
    broker: KafkaBroker,
    engine: AsyncEngine,
    *,
    max_records: int = MAX_RECORDS,
    group_id: str = GROUP_ID,
) -> None:
    """Declare the projector's subscriber on ``broker``."""
    pipeline: BatchPipeline[BatchOutcome] = BatchPipeline()
    listener = SeekToStoredPositions(engine, pipeline)

    subscriber = broker.subscriber(
        EVENTS_TOPIC,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        # FastStream waits this long for records and, when none came, sleeps as long
        # again: at 50 ms an event arriving after a quiet moment waited up to 100 ms.
        batch_timeout_ms=10,
        # Kafka answers a fetch once FETCH_MIN_BYTES are there or FETCH_MAX_WAIT_MS
        # have passed. With the default (1 byte) the live projector got a few records
        # per fetch, so each transaction carried 3-5 events and its fixed cost: at
        # 1,000 events/s it needed 400-600 µs of CPU per event, against 54 µs on a
        # backlog.
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        auto_offset_reset="earliest",
        # Acknowledged by the handler: the group offsets it commits (a hint for
        # lag monitoring) are those of batches whose transaction committed.
        ack_policy=AckPolicy.MANUAL,
        listener=listener,
        title="projector",
        description="Folds every analysis event into the analysis_request read model.",
    )
    listener.subscriber = subscriber

    def consumer() -> Any:
        assert subscriber.consumer is not None, "the subscriber has started"
        return subscriber.consumer

    async def write(records: list[Record]) -> BatchOutcome:
        outcome: BatchOutcome = await _retry_db(
            lambda: apply_batch(engine, records), "apply a batch"
        )
        return outcome

    async def dead_letter(msg: Any, reason: str) -> None:
        await send_to_dead_letter(broker, msg, reason, group_id)

    async def rewind() -> None:
        await listener.rewind(set(consumer().assignment()))

    async def committed(outcome: BatchOutcome) -> None:
        await _commit_hint(consumer(), outcome)

    handle = BatchHandler(pipeline, write, dead_letter, rewind, committed)

    @subscriber(parser=tolerant_parser, decoder=raw_records)
    async def project(records: Any) -> None:  # Any: FastDepends validates nothing
        await handle(records)


async def _commit_hint(consumer: Any, outcome: BatchOutcome) -> None:
    """Commit a committed batch's positions as the group's offsets: only a hint
    (for lag monitoring), so a failure (a rebalance under way) costs nothing."""
    assigned = {tp.partition: tp for tp in consumer.assignment()}
    offsets = {assigned[p]: o for p, o in outcome.positions.items() if p in assigned}
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:
        log.info("projector: group offsets not committed (%s); the database has them", exc)
