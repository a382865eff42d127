"""FastStream entrypoint of the projector: consume the log in batches, apply each
batch in one transaction, and send undecodable records to the DLQ.

Positions live in PostgreSQL with the rows; on every partition assignment the
consumer seeks to them (through ``ConsumerControl``), so the group's committed
offsets are only a hint. Its ack policy is MANUAL for that reason.

Each batch's outcome is explicit. Its decoder (``decode_batch``) turns the
records into typed ``Record`` s and poison. Database outages are waited out in
place (retry with backoff) rather than skipped. Batches go through a
``BatchPipeline``: FastStream decodes batch N+1 while batch N's transaction is
in flight, and the handler returns once N+1's has started. A write that fails
for any other reason makes the next handler call rewind every partition to the
stored positions, so the batch is read again rather than skipped. A poison
record the DLQ refuses, or a rewind that fails, stops the process (``Failures``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events import EVENTS_TOPIC, EventDecodeError, decode_with_json
from infra import tracing
from infra.consumer_control import ConsumerControl
from infra.consumer_health import ConsumerHealth
from infra.dead_letter import send_to_dead_letter
from infra.logs import analysis_bound
from infra.ops_server import OpsEndpoints
from infra.record_parser import Poison, RawRecord, poison, records_of, tolerant_parser
from infra.supervision import ConsumerFailed, Failures
from projector.metrics import APPLY_DURATION, BATCH_RECORDS, EVENTS_APPLIED
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
STUCK_AFTER_SECONDS = 60.0
"""Records waiting and no batch committed for this long: ``/readyz`` says stuck."""
MAX_RECORDS = 500
FETCH_MIN_BYTES = 256 * 1024
FETCH_MAX_WAIT_MS = 20


class SeekToStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, move the consumer to the positions stored with the rows."""

    def __init__(self, engine: AsyncEngine, pipeline: BatchPipeline[BatchOutcome]) -> None:
        self._engine = engine
        self._pipeline = pipeline
        self.consumer: ConsumerControl | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Let the batch in flight commit first, so the next owner of these
        # partitions starts from its positions. Its failure needs nothing more:
        # the assignment that follows seeks to the stored positions anyway.
        try:
            await self._pipeline.drain()
        except Exception as exc:
            log.warning("projector: the batch in flight failed (%r); read again", exc)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.rewind({tp.partition for tp in assigned if tp.topic == EVENTS_TOPIC})

    async def rewind(self, partitions: set[int]) -> None:
        """Seek ``partitions`` to the positions stored with the rows."""
        assert self.consumer is not None, "the subscriber is declared"
        positions = await _retry_db(lambda: stored_positions(self._engine), "read positions")
        for partition in partitions:
            offset = positions.get(partition, 0)
            self.consumer.seek(partition, offset)
            log.info("projector: partition %s resumes at offset %s", partition, offset)


async def _retry_db(operation: Any, what: str) -> Any:
    delay = 0.1
    while True:
        try:
            return await operation()
        except (SQLAlchemyError, StoreUnavailable, OSError) as exc:
            log.warning("projector: cannot %s (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)


def to_records(raw: Sequence[RawRecord]) -> tuple[list[Record], list[Poison]]:
    """Decode raw Kafka records: every one as a ``Record`` (poison without an
    envelope, so its position advances too), and the poison ones with reasons."""
    records: list[Record] = []
    bad: list[Poison] = []
    for msg in raw:
        try:
            decoded = decode_with_json(msg.value, msg.headers)
        except EventDecodeError as exc:
            bad.append(poison(msg, exc))
            records.append(Record(msg.partition, msg.offset, None))
            continue
        records.append(Record(msg.partition, msg.offset, decoded.envelope, decoded.data_json))
    return records, bad


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A consumed batch as the projector's handler takes it."""

    records: list[Record]
    poison: list[Poison]


async def decode_batch(message: KafkaMessage) -> DecodedBatch:
    """The projector subscriber's decoder."""
    return DecodedBatch(*to_records(records_of(message)))


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
    dead_letter: Callable[[Poison], Awaitable[None]]
    rewind: Callable[[], Awaitable[None]]
    committed: Callable[[BatchOutcome], Awaitable[None]]

    async def __call__(self, batch: DecodedBatch) -> None:
        try:
            done = await self.pipeline.drain()
            for item in batch.poison:
                await self.dead_letter(item)
            self.pipeline.start(self.write(batch.records))
        except Exception as exc:
            try:
                await self.rewind()
            except Exception as rewind_failed:
                raise ConsumerFailed(f"projector: cannot rewind after {exc!r}") from rewind_failed
            raise  # the records come again after the rewind
        if done is not None:
            await self.committed(done)


def _trace_applied(records: list[Record], started_ns: int) -> None:
    """The batch's transaction as a span in each traced event's own trace.

    A batch holds events of many analyses, hence many traces. One span per event,
    each a child of the span that produced the event and timed as the whole
    transaction, puts the projection where a trace view shows it: in the
    analysis's trace, between the event and the first read that sees it. (A
    single batch span with a link per event is the lighter alternative, but it
    lives in a trace of its own, and trace views do not follow links into it.)"""
    tracing.record_spans(
        "projector apply",
        (r.envelope for r in records if r.envelope is not None),
        started_ns,
        time.time_ns(),
        {"messaging.batch.message_count": len(records)},
    )


def register(
    broker: KafkaBroker,
    engine: AsyncEngine,
    failures: Failures,
    *,
    max_records: int = MAX_RECORDS,
    group_id: str = GROUP_ID,
    ops: OpsEndpoints | None = None,
) -> None:
    """Declare the projector's subscriber on ``broker``; its lag and readiness
    checks go to ``ops``."""
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
        # per fetch, so each transaction carried a few events and its fixed cost.
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
    consumer = listener.consumer = ConsumerControl(subscriber, EVENTS_TOPIC)
    health = ConsumerHealth("projector", consumer, stuck_after=STUCK_AFTER_SECONDS)
    if ops is not None:
        health.register(ops)

    async def timed_apply(records: list[Record]) -> BatchOutcome:
        started = time.perf_counter()
        outcome = await apply_batch(engine, records)
        APPLY_DURATION.observe(time.perf_counter() - started)
        return outcome

    async def write(records: list[Record]) -> BatchOutcome:
        started = time.time_ns() if tracing.enabled() else 0
        outcome: BatchOutcome = await _retry_db(lambda: timed_apply(records), "apply a batch")
        if started:
            _trace_applied(records, started)
        if records:
            BATCH_RECORDS.observe(len(records))
            EVENTS_APPLIED.inc(outcome.applied)
            health.advanced()
        for settled in outcome.settled:
            with analysis_bound(settled.analysis_id, settled.correlation_id):
                log.info("analysis %s is %s in the read model", settled.analysis_id, settled.status)
        return outcome

    async def dead_letter(item: Poison) -> None:
        await send_to_dead_letter(broker, item, group_id)  # raises DeadLetterFailed

    async def rewind() -> None:
        await listener.rewind(consumer.assigned())

    async def committed(outcome: BatchOutcome) -> None:
        # Only a hint, so a refusal (a rebalance under way) costs nothing.
        await consumer.commit(outcome.positions)

    handle = BatchHandler(pipeline, write, dead_letter, rewind, committed)

    @subscriber(parser=tolerant_parser, decoder=decode_batch)
    async def project(batch: DecodedBatch) -> None:
        async with failures.guard("projector"):
            try:
                await handle(batch)
            except ConsumerFailed:
                raise
            except Exception:
                # Outcome: read again. The consumer was rewound to the stored positions.
                log.exception("projector: a batch was not written; reading it again")
