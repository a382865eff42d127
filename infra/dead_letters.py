"""Read the last records of the dead-letter topic, for operators to look at.

A short-lived consumer without a group (it commits nothing and joins nothing):
it seeks each partition of ``media-analysis.events.dlq`` to a few records before
its end and reads up to the end. Only the headers are kept (where a record came
from and why it was refused), never its value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from events import DEAD_LETTER_TOPIC, MediaAnalysisError


class DeadLettersUnavailable(MediaAnalysisError):
    """The dead-letter topic could not be read."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One refused record as its ``x-dlq-*`` and ``ce_*`` headers describe it."""

    dlq_partition: int
    dlq_offset: int
    time: datetime
    type: str | None
    subject: str | None
    reason: str
    topic: str | None
    partition: int | None
    offset: int | None
    consumer: str | None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _dead_letter(partition: int, offset: int, timestamp_ms: int, raw: dict[str, str]) -> DeadLetter:
    return DeadLetter(
        dlq_partition=partition,
        dlq_offset=offset,
        time=datetime.fromtimestamp(timestamp_ms / 1000, UTC),
        type=raw.get("ce_type"),
        subject=raw.get("ce_subject"),
        reason=raw.get("x-dlq-reason", ""),
        topic=raw.get("x-dlq-topic"),
        partition=_int(raw.get("x-dlq-partition")),
        offset=_int(raw.get("x-dlq-offset")),
        consumer=raw.get("x-dlq-consumer"),
    )


READ_TIMEOUT_SECONDS = 5.0


async def last_dead_letters(connection: Mapping[str, Any], limit: int) -> list[DeadLetter]:
    """The ``limit`` most recent dead-lettered records, newest first; ``connection``:
    aiokafka's connection options (``kafka_connection(settings)``)."""
    try:
        return await asyncio.wait_for(_read(connection, limit), READ_TIMEOUT_SECONDS)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise DeadLettersUnavailable(f"the dead-letter topic cannot be read: {exc!r}") from exc


async def _partitions(connection: Mapping[str, Any]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**connection, request_timeout_ms=3000)
    await admin.start()
    try:
        (topic,) = await admin.describe_topics([DEAD_LETTER_TOPIC])
    finally:
        await admin.close()
    return sorted(TopicPartition(DEAD_LETTER_TOPIC, p["partition"]) for p in topic["partitions"])


async def _read(connection: Mapping[str, Any], limit: int) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(
        **connection,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=3000,
    )
    await consumer.start()
    try:
        wanted = await _partitions(connection)
        if not wanted:
            return []
        consumer.assign(wanted)
        starts = await consumer.beginning_offsets(wanted)
        ends = await consumer.end_offsets(wanted)
        remaining = {tp for tp in wanted if ends[tp] > starts[tp]}
        for tp in remaining:
            consumer.seek(tp, max(starts[tp], ends[tp] - limit))
        found: list[DeadLetter] = []
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    raw = {k: v.decode("utf-8", "replace") for k, v in record.headers}
                    found.append(_dead_letter(tp.partition, record.offset, record.timestamp, raw))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    found.sort(key=lambda d: (d.time, d.dlq_partition, d.dlq_offset), reverse=True)
    return found[:limit]
