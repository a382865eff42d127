"""The one adapter over a FastStream subscriber's aiokafka consumer.

Why: FastStream acknowledges messages one at a time in log order, but the
processors finish analyses out of order and the projector keeps its positions in
PostgreSQL, so both commit, seek and pause here, on the consumer underneath.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class HasConsumer(Protocol):
    """A FastStream Kafka subscriber (its ``consumer`` is None until it starts)."""

    @property
    def consumer(self) -> Any: ...


class ConsumerControl:
    """Commits, seeks, pauses and watermarks of one subscriber's consumer, by partition."""

    def __init__(self, subscriber: HasConsumer, topic: str) -> None:
        self._subscriber = subscriber
        self._topic = topic

    @property
    def started(self) -> bool:
        return self._subscriber.consumer is not None

    def _consumer(self) -> Any:
        consumer = self._subscriber.consumer
        assert consumer is not None, "the subscriber has started"
        return consumer

    def assigned(self) -> set[int]:
        """The partitions of the topic this member owns now (none before start)."""
        consumer = self._subscriber.consumer
        if consumer is None:
            return set()
        return {tp.partition for tp in consumer.assignment() if tp.topic == self._topic}

    async def commit(self, positions: Mapping[int, int]) -> dict[int, int] | None:
        """Commit ``positions`` (partition -> next offset) of the partitions this member
        owns as the group's offsets; the positions committed, or None when Kafka
        refused (a rebalance under way, the broker gone) or nothing runs yet: the
        caller keeps them and commits again later. The one place a commit error is
        swallowed, because a later commit carries the same positions or more."""
        consumer = self._subscriber.consumer
        if consumer is None:
            return None
        assigned = self.assigned()
        owned = {p: o for p, o in positions.items() if p in assigned}
        if not owned:
            return owned
        try:
            await consumer.commit({TopicPartition(self._topic, p): o for p, o in owned.items()})
        except KafkaError as exc:
            log.warning("%s: group offsets not committed (%s)", self._topic, exc)
            return None
        return owned

    def seek(self, partition: int, offset: int) -> None:
        """Read ``partition`` next from ``offset``."""
        self._consumer().seek(TopicPartition(self._topic, partition), offset)

    def pause(self) -> None:
        """Stop fetching every assigned partition (a started consumer only)."""
        consumer = self._subscriber.consumer
        if consumer is not None:
            consumer.pause(*consumer.assignment())

    def resume(self) -> None:
        consumer = self._subscriber.consumer
        if consumer is not None and consumer.paused():
            consumer.resume(*consumer.paused())

    async def lag(self) -> dict[int, int]:
        """Per assigned partition, records not read yet: its end offset as of the
        latest fetch minus the consumer's position (partitions not fetched yet are left out)."""
        consumer = self._subscriber.consumer
        if consumer is None:
            return {}
        behind: dict[int, int] = {}
        for tp in list(consumer.assignment()):
            if tp.topic != self._topic or (highwater := consumer.highwater(tp)) is None:
                continue
            position = await consumer.position(tp)
            behind[tp.partition] = max(0, int(highwater) - int(position))
        return behind

    def highwater(self, partition: int) -> int | None:
        """The partition's end offset as of the consumer's latest fetch of it, if any."""
        consumer = self._subscriber.consumer
        if consumer is None:
            return None
        highwater = consumer.highwater(TopicPartition(self._topic, partition))
        return None if highwater is None else int(highwater)
