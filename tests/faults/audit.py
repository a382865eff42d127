"""The consistency audit every fault scenario ends with.

Reads the events topic back from offset 0 and the read model, and counts, for
the analyses a scenario submitted: requests answered 202 whose
AnalysisRequested is missing from the log (lost), AnalysisRequested events
beyond one per analysis (duplicated), rows whose state differs from the fold of
their events (mismatched), and analyses not terminal (stuck).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select

from events import EVENTS_TOPIC, Envelope, decode
from infra.database import create_engine
from infra.settings import Settings
from read_model.fold import AnalysisState, apply
from read_model.tables import analysis_event, analysis_request, projection_position
from tests.e2e.test_processing_runtime import read_topic

REQUESTED = "media-analysis.analysis.requested"
TERMINAL = {"completed", "failed", "deleted"}


@dataclass
class AuditReport:
    scenario: str
    sent: int
    accepted: int
    events_in_log: int = 0
    rows_in_table: int = 0
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    mismatched: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"FAULTS {self.scenario}: sent={self.sent} accepted_202={self.accepted} "
            f"events_in_log={self.events_in_log} rows_in_table={self.rows_in_table} "
            f"lost={self.lost} duplicated={self.duplicated} stuck={self.stuck} "
            f"mismatched={len(self.mismatched)}"
        )

    @property
    def clean(self) -> bool:
        return self.lost == self.duplicated == self.stuck == 0 and not self.mismatched


def events_by_analysis(env: dict[str, str], ids: set[str]) -> dict[str, list[Envelope]]:
    """Each analysis's events in log order, one per event id (the projector's dedup key)."""
    return by_analysis(read_topic(env, EVENTS_TOPIC, int(env["KAFKA_TOPIC_PARTITIONS"])), ids)


def by_analysis(records: Iterable[Any], ids: set[str]) -> dict[str, list[Envelope]]:
    """The records of ``ids`` decoded, per analysis in log order, one per event id."""
    keyed = sorted(
        (r for r in records if r.key is not None and r.key.decode() in ids),
        key=lambda r: (r.partition, r.offset),
    )
    seen: set[str] = set()
    out: dict[str, list[Envelope]] = {i: [] for i in ids}
    for record in keyed:
        envelope = decode(record.value, record.headers)
        if envelope.id in seen:
            continue
        seen.add(envelope.id)
        out[record.key.decode()].append(envelope)
    return out


def fold(events: list[Envelope]) -> AnalysisState | None:
    state: AnalysisState | None = None
    for envelope in events:
        state = apply(state, envelope)
    return state


def table_rows(env: dict[str, str], ids: set[str]) -> tuple[dict[str, dict[str, Any]], int]:
    """The analysis_request rows of ``ids`` and how many audit rows they have."""

    async def read() -> tuple[dict[str, dict[str, Any]], int]:
        engine = create_engine(Settings(database_url=env["DATABASE_URL"]))
        uuids = [UUID(i) for i in ids]
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(analysis_request).where(analysis_request.c.id.in_(uuids))
                    )
                ).all()
                audit_rows = (
                    await conn.execute(
                        select(func.count()).where(analysis_event.c.analysis_id.in_(uuids))
                    )
                ).scalar_one()
        finally:
            await engine.dispose()
        return {str(r.id): dict(r._mapping) for r in rows}, int(audit_rows)

    return asyncio.run(read())


def _compare(scenario: str, sent: int, accepted: list[str], env: dict[str, str]) -> AuditReport:
    events = events_by_analysis(env, set(accepted)) if accepted else {}
    return compare(scenario, sent, accepted, env, events)


def compare(
    scenario: str,
    sent: int,
    accepted: list[str],
    env: dict[str, str],
    events: dict[str, list[Envelope]],
) -> AuditReport:
    """lost, duplicated, stuck and mismatched of ``accepted``, from their ``events``
    in the log and their rows in the table."""
    ids = set(accepted)
    report = AuditReport(scenario, sent, len(accepted))
    rows, audit_rows = table_rows(env, ids) if ids else ({}, 0)
    report.events_in_log = sum(len(e) for e in events.values())
    report.rows_in_table = len(rows)
    for analysis_id in ids:
        mine = events.get(analysis_id, [])
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
    return report


def audit(
    scenario: str, sent: int, accepted: list[str], env: dict[str, str], *, timeout: float = 90
) -> AuditReport:
    """Audit until clean or the deadline (processors and projector need time to
    finish after a fault); the last report is printed and returned."""
    deadline = time.monotonic() + timeout
    while True:
        report = _compare(scenario, sent, accepted, env)
        if report.clean or time.monotonic() > deadline:
            print(report.line(), flush=True)
            return report
        time.sleep(2)


def end_offsets(env: dict[str, str]) -> dict[int, int]:
    """The events topic's current end offset per partition."""

    async def read() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
        await consumer.start()
        try:
            tps = [
                TopicPartition(EVENTS_TOPIC, p) for p in range(int(env["KAFKA_TOPIC_PARTITIONS"]))
            ]
            return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    return asyncio.run(read())


def projector_reached(env: dict[str, str], ends: dict[int, int]) -> bool:
    """Whether the projector's stored positions have reached ``ends``."""

    async def read() -> dict[int, int]:
        engine = create_engine(Settings(database_url=env["DATABASE_URL"]))
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(projection_position).where(
                            projection_position.c.topic == EVENTS_TOPIC
                        )
                    )
                ).all()
        finally:
            await engine.dispose()
        return {int(r.partition): int(r.next_offset) for r in rows}

    stored = asyncio.run(read())
    return all(stored.get(p, 0) >= o for p, o in ends.items())
