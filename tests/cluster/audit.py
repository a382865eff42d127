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

from events import EVENTS_TOPIC, Envelope, decode
from infra.database import create_engine
from infra.settings import Settings
from read_model.tables import analysis_request
from tests.conftest import wait_until
from tests.faults.audit import REQUESTED, TERMINAL, AuditReport, fold, table_rows


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
    ids = set(accepted)
    report = AuditReport(scenario, sent, len(accepted))
    seen: set[str] = set()
    events: dict[str, list[Envelope]] = {i: [] for i in ids}
    for record in sorted(read_from(env, since), key=lambda r: (r.partition, r.offset)):
        key = record.key.decode() if record.key is not None else None
        if key not in ids:
            continue
        envelope = decode(record.value, record.headers)
        if envelope.id not in seen:
            seen.add(envelope.id)
            events[key].append(envelope)
    rows, audit_rows = table_rows(env, ids) if ids else ({}, 0)
    report.events_in_log = sum(len(e) for e in events.values())
    report.rows_in_table = len(rows)
    for analysis_id in ids:
        mine = events[analysis_id]
        requested = sum(1 for e in mine if e.type == REQUESTED)
        report.lost += requested == 0
        report.duplicated += max(0, requested - 1)
        row = rows.get(analysis_id)
        if row is None or row["status"] not in TERMINAL:
            report.stuck += 1
        expected = fold(mine)
        if expected is None or row is None or expected.as_row() != row:
            report.mismatched.append(analysis_id)
    if audit_rows != report.events_in_log:
        report.mismatched.append(
            f"audit table has {audit_rows} events, log has {report.events_in_log}"
        )
    print(report.line(), flush=True)
    return report
