"""FastStream entrypoints of the processors.

``work``: a member of the consumer group ``media-analysis-processors`` (scale out
by starting more processors). It decodes each record and hands requests to the
runtime, returning at once; poison records go to the dead-letter topic. Its ack
policy is MANUAL: nothing is acknowledged per message, the runtime commits each
partition only up to the first record whose outcome is not yet recorded.

``cancellations``: every processor instance reads every AnalysisDeleted (no
group, from the end of the log), because the deleted analysis may run on any
of them; it cancels that analysis's work within moments, even while the group
subscriber is paused because all analysis slots are taken.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import ConsumerRebalanceListener
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from events import (
    EVENTS_TOPIC,
    AnalysisDeleted,
    AnalysisRequested,
    EventDecodeError,
    decode,
)
from infra.dead_letter import send_to_dead_letter
from infra.record_parser import raw_records, tolerant_parser
from processors.runtime import AnalysisRuntime

log = logging.getLogger(__name__)

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
"""The cancellations subscriber waits ten times as long for a fetch, and looks
for fetched records ten times less often: it reads every event and cancels a
deleted analysis within half a second (at most 250 ms in Kafka, then up to
twice this timeout in FastStream's loop), while asking Kafka 4 times a second on
a quiet log instead of 40, and waking 5 times instead of 50. An empty fetch
costs the broker about as much as a produce request (0.3-1 ms of its CPU on the
bench VM); a processor sitting idle cost Kafka 0.09 cores and itself 0.06
(BENCHMARKS.md)."""


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands partition revocations and assignments to the runtime."""

    def __init__(self, runtime: AnalysisRuntime) -> None:
        self._runtime = runtime

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._runtime.partitions_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._runtime.partitions_assigned(set(assigned))


MAX_RECORDS = 500
"""At most this many records per handler call. FastStream's per-message machinery
(its context, logging middleware and dependency injection) cost about a fifth of
the processor's CPU when each record was one call: both subscribers read every
event, four or so per analysis. A batch pays it once."""

BATCH_TIMEOUT_MS = 10
"""How long a fetch waits when no record is buffered; FastStream then sleeps as
long again, so an analysis starts at most about 20 ms later on a quiet log."""


def register(broker: KafkaBroker, runtime: AnalysisRuntime) -> Any:
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

    async def work_one(raw: Any) -> None:
        try:
            envelope = decode(raw.value, raw.headers)
        except EventDecodeError as exc:
            runtime.hold(raw.partition, raw.offset)  # not committed past until dead-lettered
            await send_to_dead_letter(broker, raw, f"{exc.reason}: {exc}", GROUP_ID)
            runtime.done(raw.partition, raw.offset)
            return
        if isinstance(envelope.data, AnalysisRequested):
            runtime.submit(envelope, raw.partition, raw.offset)
            return
        if isinstance(envelope.data, AnalysisDeleted):
            await runtime.cancel(envelope.analysis_id)
        runtime.done(raw.partition, raw.offset)

    @work_subscriber(parser=tolerant_parser, decoder=raw_records)
    async def work(records: Any) -> None:
        # In log order: the runtime holds each partition's commit behind its
        # earliest unfinished record, whatever the batch around it.
        for raw in records:
            try:
                await work_one(raw)
            except Exception:  # as FastStream did for one record a call: log, go on
                log.exception("record %s/%s could not be handled", raw.partition, raw.offset)

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
        decoder=raw_records,
    )
    async def cancellations(records: Any) -> None:
        deleted = AnalysisDeleted.TYPE.encode()
        for raw in records:
            if dict(raw.headers).get("ce_type") != deleted:
                continue  # every other event is the work subscriber's business
            try:
                envelope = decode(raw.value, raw.headers)
            except EventDecodeError:
                continue  # the work subscriber dead-letters it
            try:
                await runtime.cancel(envelope.analysis_id)
            except Exception:
                log.exception("cancelling analysis %s failed", envelope.analysis_id)

    return work_subscriber
