"""Helpers for tests that work on the event log and the projection directly:
produce events with a plain Kafka producer, run the projection CLI, read SQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from events import EVENTS_TOPIC, Envelope, encode

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def sql(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """Run one statement on ``url`` and return its rows."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(plain_dsn(url))
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


async def produce(
    bootstrap: str, envelopes: Sequence[Envelope], *, chunk: int = 0, pause: float = 0.0
) -> list[RecordMetadata]:
    """Produce ``envelopes`` in order with acks=all and idempotence; with ``chunk``,
    wait for each ``chunk`` records to be acknowledged and pause between chunks.
    Returns where each record landed (partition and offset), in order."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    acked: list[RecordMetadata] = []
    try:
        sent = []
        for envelope in envelopes:
            record = encode(envelope)
            sent.append(
                await producer.send(
                    EVENTS_TOPIC, record.value, key=record.key, headers=list(record.headers)
                )
            )
            if chunk and len(sent) >= chunk:
                acked += await asyncio.gather(*sent)
                sent = []
                await asyncio.sleep(pause)
        acked += await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return acked


def end_offsets(bootstrap: str) -> dict[int, int]:
    """Where each partition of the event topic ends now."""

    async def read() -> dict[int, int]:
        consumer = AIOKafkaConsumer(EVENTS_TOPIC, bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            tps = list(consumer.assignment())
            return {tp.partition: int(o) for tp, o in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    return asyncio.run(read())


def positions(url: str) -> dict[int, int]:
    rows = sql(
        url,
        "SELECT partition, next_offset FROM projection_position "
        "WHERE projection = 'analysis_request' AND topic = $1",
        EVENTS_TOPIC,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


def projection_cli(
    env: dict[str, str], action: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``media-analysis projection <action>`` as an operator runs it."""
    return subprocess.run(
        [str(BIN / "media-analysis"), "projection", action],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
