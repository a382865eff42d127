"""Port and Kafka adapter for recording events."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from events import EVENTS_TOPIC, Envelope, MediaAnalysisError, encode
from http_edge.metrics import EVENTS_PRODUCED
from infra import tracing


class EventLogUnavailable(MediaAnalysisError):
    """The event could not be recorded (Kafka unreachable or too slow)."""


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where an event landed: its partition and offset."""

    partition: int
    offset: int


class EventPublisher(Protocol):
    async def publish(self, envelope: Envelope) -> LogPosition:
        """Record ``envelope`` durably; return its position or raise EventLogUnavailable."""
        ...


class KafkaEventPublisher:
    """Produces with acks=all and idempotence (configured on the broker)."""

    def __init__(self, broker: KafkaBroker, timeout_seconds: float) -> None:
        self._broker = broker
        self._timeout = timeout_seconds
        self._failing = False
        self._trial = asyncio.Lock()

    async def publish(self, envelope: Envelope) -> LogPosition:
        """While Kafka is failing, one request at a time tries (and waits up to the
        timeout); the others are refused at once instead of each waiting it out. A
        202 still needs an acks=all acknowledgement, so nothing is weakened."""
        if not self._failing:
            return await self._publish(envelope)
        if self._trial.locked():
            raise EventLogUnavailable(
                "Kafka is unavailable (the last attempt to record an event failed); retry later"
            )
        async with self._trial:
            return await self._publish(envelope)

    async def _publish(self, envelope: Envelope) -> LogPosition:
        try:
            position = await self._send(envelope)
        except EventLogUnavailable:
            self._failing = True
            raise
        self._failing = False
        return position

    async def _send(self, envelope: Envelope) -> LogPosition:
        record = encode(tracing.stamped(envelope))  # the POST's or DELETE's span, if traced
        try:
            meta = await asyncio.wait_for(
                self._broker.publish(
                    record.value,
                    topic=EVENTS_TOPIC,
                    key=record.key,
                    headers=record.header_dict(),
                    correlation_id=envelope.correlation_id,
                ),
                self._timeout,
            )
        except TimeoutError as exc:
            raise EventLogUnavailable(
                f"Kafka did not acknowledge the event within {self._timeout:g}s"
            ) from exc
        except KafkaError as exc:
            raise EventLogUnavailable(f"Kafka refused the event: {exc}") from exc
        EVENTS_PRODUCED.labels(envelope.type).inc()
        return LogPosition(partition=meta.partition, offset=meta.offset)
