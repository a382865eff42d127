"""FastStream entrypoints of the processors.

``work``: a member of the consumer group ``media-analysis-processors`` (scale out
by starting more processors). Its decoder turns each record into a typed event
or poison; the handler decides each record's outcome: a request is handed to
the runtime (which returns at once), a deletion cancels its analysis, poison is
held, dead-lettered and released, anything else needs nothing. Its ack policy is
MANUAL: FastStream acknowledges nothing, the runtime commits each partition only
up to the first record whose outcome is not yet recorded (``PartitionControl``).
A record it cannot give an outcome (the dead-letter topic refused it) stops the
process through ``Failures``; the held record is never committed past.

``cancellations``: every processor instance reads every AnalysisDeleted (no
group, from the end of the log), because the deleted analysis may run on any
of them; it cancels that analysis's work within moments, even while the group
subscriber is paused because all analysis slots are taken.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from events import (
    EVENTS_TOPIC,
    AnalysisDeleted,
    AnalysisRequested,
    Envelope,
    EventDecodeError,
    decode,
)
from infra.dead_letter import send_to_dead_letter
from infra.record_parser import Consumed, Poison, decode_events, records_of, tolerant_parser
from infra.supervision import Failures

GROUP_ID = "media-analysis-processors"

FETCH_MIN_BYTES = 64 * 1024
FETCH_MAX_WAIT_MS = 25
"""Kafka answers a fetch once 64 KiB are there or 25 ms have passed. With the
default (1 byte), each of the two consumers below sent a fetch for every few
records it got: the processors read every event, so under load that was a few
thousand fetch round trips a second for this process and the broker alike. An
analysis starts at most 25 ms later."""

CANCELLATIONS_FETCH_MAX_WAIT_MS = 250
CANCELLATIONS_BATCH_TIMEOUT_MS = 100
"""The cancellations subscriber waits longer for a fetch and looks for fetched
records less often than the work subscriber: it reads every event and still
cancels a deleted analysis within half a second, while an idle processor asks
Kafka far less often (an empty fetch costs the broker about as much as a
produce request)."""


class Outcomes(Protocol):
    """What the handlers tell the runtime about each record (``AnalysisRuntime``)."""

    def submit(self, envelope: Envelope, partition: int, offset: int) -> None: ...
    def hold(self, partition: int, offset: int) -> None: ...
    def done(self, partition: int, offset: int) -> None: ...
    async def cancel(self, analysis_id: UUID) -> None: ...
    async def partitions_revoked(self, revoked: set[TopicPartition]) -> None: ...
    def partitions_assigned(self, assigned: set[TopicPartition]) -> None: ...


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands partition revocations and assignments to the runtime."""

    def __init__(self, runtime: Outcomes) -> None:
        self._runtime = runtime

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._runtime.partitions_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._runtime.partitions_assigned(set(assigned))


_DELETED = AnalysisDeleted.TYPE.encode()


async def decode_deletions(message: KafkaMessage) -> list[Envelope]:
    """The cancellations subscriber's decoder: the batch's readable deletions.

    Every other record is the work subscriber's business (poison included), so
    only AnalysisDeleted records are decoded at all: this subscriber reads every
    event of the log."""
    out: list[Envelope] = []
    for record in records_of(message):
        if dict(record.headers).get("ce_type") != _DELETED:
            continue
        try:
            out.append(decode(record.value, record.headers))
        except EventDecodeError:
            continue  # the work subscriber dead-letters it
    return out


MAX_RECORDS = 500
"""At most this many records per handler call. FastStream's per-message machinery
(its context, logging middleware and dependency injection) cost about a fifth of
the processor's CPU when each record was one call: both subscribers read every
event, four or so per analysis. A batch pays it once."""

BATCH_TIMEOUT_MS = 10
"""How long a fetch waits when no record is buffered; FastStream then sleeps as
long again, so an analysis starts at most about 20 ms later on a quiet log."""


def register(broker: KafkaBroker, runtime: Outcomes, failures: Failures) -> BatchSubscriber:
    """Declare the processors' subscribers on ``broker``; return the group subscriber."""
    work_subscriber = broker.subscriber(
        EVENTS_TOPIC,
        group_id=GROUP_ID,
        auto_offset_reset="earliest",
        batch=True,
        max_records=MAX_RECORDS,
        batch_timeout_ms=BATCH_TIMEOUT_MS,
        ack_policy=AckPolicy.MANUAL,
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        listener=RebalanceListener(runtime),
        title="processor",
        description="Analyses the media of every AnalysisRequested event.",
    )

    async def dead_letter(item: Poison) -> None:
        runtime.hold(item.partition, item.offset)  # not committed past until dead-lettered
        await send_to_dead_letter(broker, item, GROUP_ID)  # raises DeadLetterFailed
        runtime.done(item.partition, item.offset)

    @work_subscriber(parser=tolerant_parser, decoder=decode_events)
    async def work(batch: list[Consumed | Poison]) -> None:
        # In log order: the runtime holds each partition's commit behind its
        # earliest unfinished record, whatever the batch around it.
        async with failures.guard("processor"):
            for item in batch:
                if isinstance(item, Poison):
                    await dead_letter(item)
                    continue
                data = item.envelope.data
                if isinstance(data, AnalysisRequested):
                    runtime.submit(item.envelope, item.partition, item.offset)
                    continue
                if isinstance(data, AnalysisDeleted):
                    await runtime.cancel(item.envelope.analysis_id)
                runtime.done(item.partition, item.offset)

    @broker.subscriber(
        EVENTS_TOPIC,
        group_id=None,
        auto_offset_reset="latest",
        batch=True,
        max_records=MAX_RECORDS,
        batch_timeout_ms=CANCELLATIONS_BATCH_TIMEOUT_MS,
        ack_policy=AckPolicy.MANUAL,  # no group: nothing to commit
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=CANCELLATIONS_FETCH_MAX_WAIT_MS,
        title="processor-cancellations",
        description="Cancels in-flight work of every AnalysisDeleted event.",
        parser=tolerant_parser,
        decoder=decode_deletions,
    )
    async def cancellations(deleted: list[Envelope]) -> None:
        async with failures.guard("processor cancellations"):
            for envelope in deleted:
                await runtime.cancel(envelope.analysis_id)

    return work_subscriber
