"""Apply a batch of records to PostgreSQL in one transaction: the audit rows,
the folded analysis rows and the consumed positions commit together, so a
crash at any point neither loses nor double-applies an event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events import EVENTS_TOPIC, AnalysisDeleted, Envelope
from media_analysis.read_model import analysis_event, analysis_request, projection_position
from projector import counts
from projector.fold import AnalysisState, apply

PROJECTION = "analysis_request"


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka record; ``envelope`` is None for an undecodable one."""

    partition: int
    offset: int
    envelope: Envelope | None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    applied: int
    skipped: int
    positions: dict[int, int]


async def stored_positions(
    engine: AsyncEngine, projection: str = PROJECTION, topic: str = EVENTS_TOPIC
) -> dict[int, int]:
    """Next offset to read per partition, as last committed with the rows."""
    query = select(projection_position.c.partition, projection_position.c.next_offset).where(
        projection_position.c.projection == projection, projection_position.c.topic == topic
    )
    async with engine.connect() as conn:
        return {row.partition: row.next_offset for row in (await conn.execute(query)).all()}


def _state_from_row(row: Any) -> AnalysisState:
    return AnalysisState(
        id=row.id,
        status=row.status,
        media_type=row.media_type,
        source_url=row.source_url,
        filename=row.filename,
        prompt=row.prompt,
        analysis_config=row.analysis_config or {},
        analysis_options=row.analysis_options or {},
        results=row.results or {},
        result_summary=row.result_summary,
        progress=row.progress,
        error_message=row.error_message,
        created_at=row.created_at,
        updated_at=row.updated_at,
        completed_at=row.completed_at,
        deleted_at=row.deleted_at,
        created_by=row.created_by,
        celery_task_id=row.celery_task_id,
    )


async def _lock_positions(conn: AsyncConnection, partitions: set[int]) -> dict[int, int]:
    query = (
        select(projection_position.c.partition, projection_position.c.next_offset)
        .where(
            projection_position.c.projection == PROJECTION,
            projection_position.c.topic == EVENTS_TOPIC,
            projection_position.c.partition.in_(partitions),
        )
        .with_for_update()
    )
    return {row.partition: row.next_offset for row in (await conn.execute(query)).all()}


async def _new_event_ids(conn: AsyncConnection, records: Sequence[Record]) -> set[str]:
    rows = [
        {
            "event_id": r.envelope.id,
            "analysis_id": r.envelope.analysis_id,
            "type": r.envelope.type,
            "schema_version": r.envelope.schema_version,
            "time": r.envelope.time,
            "partition": r.partition,
            "offset": r.offset,
            "correlation_id": r.envelope.correlation_id,
            "causation_id": r.envelope.causation_id,
            "data": r.envelope.data.model_dump(mode="json"),
        }
        for r in records
        if r.envelope is not None
    ]
    if not rows:
        return set()
    # executemany form: one cached statement that SQLAlchemy sends as multi-row
    # INSERTs ("insertmanyvalues"); a .values(rows) statement was compiled anew
    # for every batch, with one bind parameter per cell.
    stmt = (
        insert(analysis_event)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(analysis_event.c.event_id)
    )
    return set((await conn.execute(stmt, rows)).scalars().all())


async def _load_states(conn: AsyncConnection, ids: set[UUID]) -> dict[UUID, AnalysisState]:
    query = select(analysis_request).where(analysis_request.c.id.in_(ids)).with_for_update()
    return {row.id: _state_from_row(row) for row in (await conn.execute(query)).all()}


async def _save_states(conn: AsyncConnection, states: Sequence[AnalysisState]) -> None:
    if not states:
        return
    rows = [s.as_row() for s in states]
    stmt = insert(analysis_request)
    columns = {c: stmt.excluded[c] for c in rows[0] if c != "id"}
    await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=columns), rows)


ERASED_FIELDS = (
    "prompt", "media_url", "filename", "config", "options",
    "results", "summary", "topics", "error_message", "detail",
)  # fmt: skip
"""What the events of a deleted analysis said of the client's content."""


async def _erase_audit_content(conn: AsyncConnection, deleted: set[UUID]) -> None:
    """Drop the client's content from the audit rows of deleted analyses (the
    events stay in the log). Runs for every batch touching a deleted analysis,
    so rows of late events are erased too, and a replay erases the same."""
    if not deleted:
        return
    data: ColumnElement[Any] = analysis_event.c.data
    for name in ERASED_FIELDS:
        data = data.op("-")(literal(name))
    await conn.execute(
        update(analysis_event)
        .where(
            analysis_event.c.analysis_id.in_(deleted),
            analysis_event.c.type != AnalysisDeleted.TYPE,
        )
        .values(data=data.op("||")(literal({"erased": True}, JSONB)))
    )


async def _save_positions(conn: AsyncConnection, positions: dict[int, int]) -> None:
    stmt = insert(projection_position).values(
        [
            {"projection": PROJECTION, "topic": EVENTS_TOPIC, "partition": p, "next_offset": o}
            for p, o in positions.items()
        ]
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["projection", "topic", "partition"],
            set_={"next_offset": stmt.excluded.next_offset},
        )
    )


async def apply_batch(engine: AsyncEngine, records: Sequence[Record]) -> BatchOutcome:
    """Fold ``records`` (in partition order) into the read model, exactly once."""
    if not records:
        return BatchOutcome(0, 0, {})
    async with engine.begin() as conn:
        stored = await _lock_positions(conn, {r.partition for r in records})
        fresh = [r for r in records if r.offset >= stored.get(r.partition, 0)]
        new_ids = await _new_event_ids(conn, fresh)
        to_apply = [r for r in fresh if r.envelope is not None and r.envelope.id in new_ids]
        states = await _load_states(conn, {r.envelope.analysis_id for r in to_apply if r.envelope})
        loaded: dict[UUID, AnalysisState | None] = dict(states)
        changed: dict[UUID, AnalysisState] = {}
        touched = {r.envelope.analysis_id for r in to_apply if r.envelope is not None}
        for record in to_apply:
            assert record.envelope is not None
            analysis_id = record.envelope.analysis_id
            before = states.get(analysis_id)
            after = apply(before, record.envelope)
            if after is not None and after is not before:
                states[analysis_id] = after
                changed[analysis_id] = after
        await _save_states(conn, list(changed.values()))
        await counts.apply_deltas(conn, counts.deltas(loaded, changed))
        await _erase_audit_content(
            conn, {a for a, s in states.items() if s.status == "deleted" and a in touched}
        )
        positions = dict(stored)
        for r in fresh:
            positions[r.partition] = max(positions.get(r.partition, 0), r.offset + 1)
        if fresh:
            await _save_positions(conn, {p: positions[p] for p in {r.partition for r in fresh}})
    return BatchOutcome(
        applied=len(to_apply), skipped=len(records) - len(to_apply), positions=positions
    )
