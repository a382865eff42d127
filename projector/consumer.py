"""FastStream entrypoint of the projector: consume the log in batches, apply each
batch in one transaction, and send undecodable records to the DLQ.

Positions live in PostgreSQL with the rows; on every partition assignment the
consumer seeks to them, so the group's committed offsets are only a hint.
Database outages pause consumption (retry with backoff) rather than skip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events import EVENTS_TOPIC, EventDecodeError, decode_with_json
from media_analysis.dead_letter import send_to_dead_letter
from media_analysis.tolerant_parser import tolerant_parser
from projector.store import Record, apply_batch, stored_positions

log = logging.getLogger(__name__)

GROUP_ID = "media-analysis-projector"
MAX_BACKOFF_SECONDS = 5.0


class SeekToStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, move the consumer to the positions stored with the rows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self.subscriber.consumer
        positions = await _retry_db(lambda: stored_positions(self._engine), "read positions")
        for tp in assigned:
            offset = positions.get(tp.partition, 0)
            consumer.seek(tp, offset)
            log.info("projector: partition %s resumes at offset %s", tp.partition, offset)


async def _retry_db(operation: Any, what: str) -> Any:
    delay = 0.1
    while True:
        try:
            return await operation()
        except (SQLAlchemyError, OSError) as exc:
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


async def _raw_bodies(message: KafkaMessage) -> Any:
    """Leave decoding to ``events.decode``: FastStream's JSON decoding would fail the
    whole batch on one garbage value (redelivered forever) instead of dead-lettering it."""
    return message.body


def register(
    broker: KafkaBroker,
    engine: AsyncEngine,
    *,
    max_records: int = 500,
    group_id: str = GROUP_ID,
) -> None:
    """Declare the projector's subscriber on ``broker``."""
    listener = SeekToStoredPositions(engine)

    subscriber = broker.subscriber(
        EVENTS_TOPIC,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        listener=listener,
        title="projector",
        description="Folds every analysis event into the analysis_request read model.",
    )
    listener.subscriber = subscriber

    @subscriber(parser=tolerant_parser, decoder=_raw_bodies)
    async def project(body: list[Any], message: KafkaMessage) -> None:
        raw = message.raw_message
        batch = list(raw) if isinstance(raw, tuple | list) else [raw]
        records, poison = to_records(batch)
        for msg, reason in poison:
            await send_to_dead_letter(broker, msg, reason, group_id)
        outcome = await _retry_db(lambda: apply_batch(engine, records), "apply a batch")
        log.debug("projector: applied %s, skipped %s", outcome.applied, outcome.skipped)
