"""Send an undecodable record to the dead-letter topic; a refusal stops the consumer."""

from __future__ import annotations

import logging

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from events import DEAD_LETTER_TOPIC, dead_letter_headers
from infra.record_parser import Poison
from infra.supervision import ConsumerFailed

log = logging.getLogger(__name__)

DEAD_LETTERED = Counter(
    "media_analysis_dead_lettered_total",
    "Records a consumer copied to the dead-letter topic.",
    ["consumer"],
)


class DeadLetterFailed(ConsumerFailed):
    """The dead-letter topic did not take a poison record: the consumer may not go past it."""


async def send_to_dead_letter(broker: KafkaBroker, poison: Poison, consumer: str) -> None:
    """Copy the poison record to the DLQ with the reason in headers."""
    raw = poison.record
    log.warning(
        "%s: record %s/%s sent to DLQ: %s", consumer, raw.partition, raw.offset, poison.reason
    )
    headers = dead_letter_headers(
        raw.headers,
        reason=poison.reason,
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        consumer=consumer,
    )
    try:
        await broker.publish(
            raw.value or b"", topic=DEAD_LETTER_TOPIC, key=raw.key, headers=headers
        )
    except KafkaError as exc:
        raise DeadLetterFailed(
            f"{consumer}: record {raw.partition}/{raw.offset} not dead-lettered: {exc!r}"
        ) from exc
    DEAD_LETTERED.labels(consumer).inc()
