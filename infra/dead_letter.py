"""Send an undecodable record to the dead-letter topic and carry on."""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker

from events import DEAD_LETTER_TOPIC, dead_letter_headers

log = logging.getLogger(__name__)


async def send_to_dead_letter(broker: KafkaBroker, raw: Any, reason: str, consumer: str) -> None:
    """Copy ``raw`` (an aiokafka ConsumerRecord) to the DLQ with the reason in headers."""
    log.warning("%s: record %s/%s sent to DLQ: %s", consumer, raw.partition, raw.offset, reason)
    headers = dead_letter_headers(
        raw.headers,
        reason=reason,
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        consumer=consumer,
    )
    await broker.publish(raw.value or b"", topic=DEAD_LETTER_TOPIC, key=raw.key, headers=headers)
