"""The fault suite's audit (tests/faults/audit.py), over one scenario's part of
the log: the events topic from the offsets the scenario began at to its end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select

from events import EVENTS_TOPIC
from infra.database import create_engine
from infra.settings import Settings
from read_model.tables import analysis_request
from tests.conftest import wait_until
from tests.faults.audit import TERMINAL, AuditReport, by_analysis, compare


def read_from(env: dict[str, str], since: dict[int, int]) -> list[Any]:
    """The events topic's records from ``since`` (partition → offset) to its end."""

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            tps = [TopicPartition(EVENTS_TOPIC, p) for p in since]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, since[tp.partition])
            end = await consumer.end_offsets(tps)
            records: list[Any] = []
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                positions = {tp: await consumer.position(tp) for tp in tps}
                if all(positions[tp] >= end[tp] for tp in tps):
                    return records
                for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                    records.extend(batch)
            raise AssertionError(f"could not read the log to its end: {positions} of {end}")
        finally:
            await consumer.stop()

    return asyncio.run(read())


def terminal_rows(env: dict[str, str], ids: list[str]) -> int:
    async def count() -> int:
        engine = create_engine(Settings(database_url=env["DATABASE_URL"]))
        try:
            async with engine.connect() as conn:
                query = select(func.count()).where(
                    analysis_request.c.id.in_([UUID(i) for i in ids]),
                    analysis_request.c.status.in_(sorted(TERMINAL)),
                )
                return int((await conn.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


def wait_terminal(env: dict[str, str], ids: list[str], timeout: float) -> float:
    """Until every accepted analysis's row is terminal; the seconds it took."""
    began = time.monotonic()
    with contextlib.suppress(AssertionError):  # the audit counts what is stuck
        wait_until(
            lambda: terminal_rows(env, ids) >= len(ids), timeout=timeout, interval=2, what="rows"
        )
    return time.monotonic() - began


def audit_since(
    scenario: str, sent: int, accepted: list[str], env: dict[str, str], since: dict[int, int]
) -> AuditReport:
    """lost, duplicated, stuck and mismatched for ``accepted`` (see tests/faults/audit.py)."""
    events = by_analysis(read_from(env, since), set(accepted))
    report = compare(scenario, sent, accepted, env, events)
    print(report.line(), flush=True)
    return report
