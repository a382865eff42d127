"""The position a processor's ledger check waits for, on the real Kafka: the
high watermark of the fetch that brought the record, without a request of its own."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, TopicPartition

from events import EVENTS_TOPIC, AnalysisRequested, new_envelope
from infra.consumer_control import ConsumerControl
from processors.partition_control import PartitionControl
from read_model.positions import LogEnds
from tests.integration.log_tools import produce


class CountedEnds(LogEnds):
    def __init__(self, bootstrap: list[str]) -> None:
        super().__init__({"bootstrap_servers": bootstrap})
        self.fetches = 0

    async def fetch(self) -> dict[int, int]:
        self.fetches += 1
        return await super().fetch()


def test_the_ledger_waits_for_the_fetchs_high_watermark(prepared: dict[str, str]) -> None:
    bootstrap = prepared["KAFKA_BOOTSTRAP_SERVERS"]

    async def scenario() -> tuple[int, int, int, int, int]:
        event = AnalysisRequested(
            analysis_id=uuid4(), prompt="p", media_url="https://e.invalid/a", media_type="video"
        )
        (acked,) = await produce(bootstrap, [new_envelope(event, source="/tests")])
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        ends = CountedEnds([bootstrap])
        subscriber = SimpleNamespace(consumer=None)  # what FastStream's subscriber exposes
        control = PartitionControl(ConsumerControl(subscriber, EVENTS_TOPIC), ends)
        await consumer.start()
        try:
            tp = TopicPartition(EVENTS_TOPIC, acked.partition)
            consumer.assign([tp])
            # No consumer (or no fetch yet): the log's end, from a round of its own.
            before = await control.end_offset(acked.partition)
            consumer.seek(tp, acked.offset)
            record = await asyncio.wait_for(consumer.getone(tp), 30)
            subscriber.consumer = consumer
            after = await control.end_offset(acked.partition)  # the watermark, no request
            return acked.offset, record.offset, before, after, ends.fetches
        finally:
            await consumer.stop()
            await ends.close()

    offset, fetched_offset, before, after, fetches = asyncio.run(scenario())
    assert fetched_offset == offset
    assert before > offset
    assert after > offset  # the record lies below it, and so does all that came before
    assert fetches == 1  # only the answer without a fetch asked Kafka
