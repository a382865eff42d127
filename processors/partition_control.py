"""The processors' hold on their Kafka partitions: which offsets may be
committed (``OffsetTracker``), committing them in the background, pausing and
resuming fetching, and the end offset a ledger check waits for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from events import EVENTS_TOPIC
from processors.offsets import OffsetTracker
from read_model.positions import LogEnds

log = logging.getLogger(__name__)

COMMIT_INTERVAL_SECONDS = 0.5


class PartitionControl:
    """Offsets and flow control of the group subscriber's consumer.

    ``consumer`` returns the subscriber's AIOKafkaConsumer (None before it starts);
    ``ends`` reads the log's end offsets for the ledger checks.
    """

    def __init__(self, consumer: Callable[[], Any], ends: LogEnds) -> None:
        self._consumer = consumer
        self._ends = ends
        self._tracker = OffsetTracker()
        self._commit_needed: asyncio.Event | None = None
        self._committer: asyncio.Task[None] | None = None

    def begin(self, partition: int, offset: int) -> None:
        """The record's outcome is pending: commits stop before it."""
        self._tracker.begin(partition, offset)

    def finish(self, partition: int, offset: int) -> None:
        """The record's outcome is recorded (or it needed none): commit past it soon."""
        self._tracker.finish(partition, offset)
        if self._committer is None:
            self._commit_needed = asyncio.Event()
            self._committer = asyncio.create_task(self._commit_loop(), name="offset-committer")
        assert self._commit_needed is not None
        self._commit_needed.set()

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._tracker.forget(partition)

    def pause(self) -> None:
        consumer = self._consumer()
        if consumer is not None:
            consumer.pause(*consumer.assignment())

    def resume(self) -> None:
        consumer = self._consumer()
        if consumer is not None and consumer.paused():
            consumer.resume(*consumer.paused())

    async def end_offset(self, partition: int) -> int:
        """A position in ``partition`` below which every event that matters for a
        record fetched from it lies: what the ledger waits for the projection to reach.

        The high watermark of the group consumer's latest fetch of the partition,
        a local read. Every event Kafka had acknowledged when the record was
        fetched lies below it, so the events of an earlier run of a redelivered
        request do too: their processor lost the partition, or died, before this
        one was given it and fetched. A deletion produced later is the
        cancellations subscriber's to act on, as it was when this was the log's
        end at the time of asking; one round to Kafka per start bought nothing
        more, and was 16-20 rounds a second under load.

        Without a watermark yet, the end offset from clients of their own
        (``LogEnds``: one fetch for every analysis asking at once, fresh clients
        after a failure), not the group consumer's: after the broker was killed
        and restarted, that consumer's ListOffsets requests once timed out for
        good while four analyses waited on them, every slot taken, and the
        processor stopped processing."""
        consumer = self._consumer()
        if consumer is not None:
            highwater = consumer.highwater(TopicPartition(EVENTS_TOPIC, partition))
            if highwater is not None:
                return int(highwater)
        return (await self._ends.after_now())[partition]

    async def _commit_loop(self) -> None:
        assert self._commit_needed is not None
        while True:
            await self._commit_needed.wait()
            self._commit_needed.clear()
            await self.commit()
            await asyncio.sleep(COMMIT_INTERVAL_SECONDS)  # one commit per interval at most

    async def commit(self, only: set[int] | None = None) -> None:
        """Commit every assigned partition (or those in ``only``) up to its committable offset."""
        consumer = self._consumer()
        if consumer is None:
            return
        assigned = {tp.partition for tp in consumer.assignment() if tp.topic == EVENTS_TOPIC}
        offsets: dict[TopicPartition, int] = {}
        for partition in self._tracker.partitions:
            if partition not in assigned or (only is not None and partition not in only):
                continue
            position = self._tracker.committable(partition)
            if position is not None:
                offsets[TopicPartition(EVENTS_TOPIC, partition)] = position
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # Not lost: the positions stay committable and go with the next commit.
            log.warning("offset commit failed (%s); retried on the next change", exc)
            if self._commit_needed is not None:
                self._commit_needed.set()
            return
        for tp, position in offsets.items():
            self._tracker.committed(tp.partition, position)
