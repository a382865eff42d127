"""The processors' FastStream handlers, through FastStream's in-memory test broker:
each record's typed event gets its outcome (run, cancel, nothing, dead-letter),
and a poison record the dead-letter topic refuses stops the consumer and is never
released for commit. The real broker runs the same handlers in
tests/e2e/test_processing_runtime.py."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import KafkaBroker, TestKafkaBroker

from events import (
    DEAD_LETTER_TOPIC,
    EVENTS_TOPIC,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisProgressed,
    AnalysisRequested,
    Envelope,
    encode,
    new_envelope,
)
from infra.dead_letter import DeadLetterFailed
from infra.supervision import ConsumerFailed, Failures
from processors.consumer import register


class RecordedOutcomes:
    """The runtime's side of the handlers, noting what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def submit(self, envelope: Envelope, partition: int, offset: int) -> None:
        self.calls.append(("submit", envelope.analysis_id))

    def hold(self, partition: int, offset: int) -> None:
        self.calls.append(("hold", (partition, offset)))

    def done(self, partition: int, offset: int) -> None:
        self.calls.append(("done", (partition, offset)))

    async def cancel(self, analysis_id: UUID) -> None:
        self.calls.append(("cancel", analysis_id))

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> None: ...

    def partitions_assigned(self, assigned: set[TopicPartition]) -> None: ...


def _broker() -> tuple[KafkaBroker, RecordedOutcomes, Failures]:
    broker = KafkaBroker(serializer=None)  # as infra.kafka builds the consumers' brokers
    runtime = RecordedOutcomes()
    failures = Failures()
    register(broker, runtime, failures)
    return broker, runtime, failures


async def _publish(broker: KafkaBroker, event: AnalysisEvent) -> None:
    record = encode(new_envelope(event, source="/tests"))
    await broker.publish(
        record.value, topic=EVENTS_TOPIC, key=record.key, headers=record.header_dict()
    )


def _request() -> AnalysisRequested:
    return AnalysisRequested(
        analysis_id=uuid4(), prompt="p", media_url="https://e.invalid/a.mp4", media_type="video"
    )


async def test_a_request_is_handed_to_the_runtime_as_a_typed_event() -> None:
    broker, runtime, failures = _broker()
    request = _request()
    async with TestKafkaBroker(broker):
        await _publish(broker, request)
    assert runtime.calls == [("submit", request.analysis_id)]
    assert failures.first is None


async def test_a_deletion_cancels_its_analysis_and_other_events_need_nothing() -> None:
    broker, runtime, _ = _broker()
    analysis_id = uuid4()
    async with TestKafkaBroker(broker):
        await _publish(broker, AnalysisDeleted(analysis_id=analysis_id))
        await _publish(
            broker,
            AnalysisProgressed(
                analysis_id=analysis_id, stage="probe", stage_status="completed", progress=10
            ),
        )
    # The group subscriber cancels and releases the record; the cancellations
    # subscriber (every instance reads every deletion) cancels too.
    assert sorted(runtime.calls, key=str) == sorted(
        [("cancel", analysis_id), ("done", (0, 0)), ("cancel", analysis_id), ("done", (0, 0))],
        key=str,
    )


async def test_a_poison_record_is_held_dead_lettered_with_its_reason_then_released() -> None:
    broker, runtime, failures = _broker()

    @broker.subscriber(DEAD_LETTER_TOPIC)
    async def dead_letters(body: bytes) -> None: ...

    async with TestKafkaBroker(broker):
        await broker.publish(b"not json", topic=EVENTS_TOPIC, headers={"ce_type": "x"})
        dead_letters.mock.assert_called_once()  # type: ignore[union-attr]
    assert runtime.calls == [("hold", (0, 0)), ("done", (0, 0))]
    assert failures.first is None


async def test_a_poison_record_the_dead_letter_topic_refuses_stops_the_consumer() -> None:
    broker, runtime, failures = _broker()

    @broker.subscriber(DEAD_LETTER_TOPIC)
    async def refuse(body: bytes) -> None:
        raise KafkaConnectionError("the dead-letter topic is unreachable")

    async with TestKafkaBroker(broker):
        with pytest.raises(ConsumerFailed):
            await broker.publish(b"not json", topic=EVENTS_TOPIC, headers={"ce_type": "x"})
    assert runtime.calls == [("hold", (0, 0))]  # never released: never committed past
    assert isinstance(failures.first, DeadLetterFailed)


async def test_an_error_no_outcome_covers_stops_the_consumer_instead_of_skipping() -> None:
    broker, runtime, failures = _broker()

    async def broken(analysis_id: UUID) -> None:
        raise RuntimeError("a bug")

    runtime.cancel = broken  # type: ignore[method-assign]
    async with TestKafkaBroker(broker):
        with pytest.raises(ConsumerFailed):
            await _publish(broker, AnalysisDeleted(analysis_id=uuid4()))
    assert failures.first is not None
    assert "a bug" in str(failures.first)
