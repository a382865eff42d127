"""The processors' hold on their Kafka partitions: which offsets may be
committed (``OffsetTracker``), committing them in the background, pausing and
resuming fetching, and the end offset a ledger check waits for."""

from __future__ import annotations

import asyncio
import logging

from infra.consumer_control import ConsumerControl
from infra.supervision import Failures
from processors.offsets import OffsetTracker
from read_model.positions import LogEnds

log = logging.getLogger(__name__)

COMMIT_INTERVAL_SECONDS = 0.5


class PartitionControl:
    """Offsets and flow control of the group subscriber's consumer.

    ``consumer`` drives the subscriber's consumer; ``ends`` reads the log's end
    offsets for the ledger checks; ``failures`` hears of a committer that died
    (its partitions would silently stop committing otherwise).
    """

    def __init__(
        self, consumer: ConsumerControl, ends: LogEnds, failures: Failures | None = None
    ) -> None:
        self._consumer = consumer
        self._ends = ends
        self._failures = failures
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
            if self._failures is not None:
                self._failures.watch(self._committer, "the processors' offset committer")
        assert self._commit_needed is not None
        self._commit_needed.set()

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._tracker.forget(partition)

    def pause(self) -> None:
        self._consumer.pause()

    def resume(self) -> None:
        self._consumer.resume()

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
        highwater = self._consumer.highwater(partition)
        if highwater is not None:
            return highwater
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
        if not self._consumer.started:
            return
        positions: dict[int, int] = {}
        for partition in self._tracker.partitions:
            if only is not None and partition not in only:
                continue
            position = self._tracker.committable(partition)
            if position is not None:
                positions[partition] = position
        if not positions:
            return
        committed = await self._consumer.commit(positions)
        if committed is None:
            # Not lost: the positions stay committable and go with the next commit.
            if self._commit_needed is not None:
                self._commit_needed.set()
            return
        for partition, position in committed.items():
            self._tracker.committed(partition, position)
