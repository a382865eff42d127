"""Apply a batch of records to PostgreSQL in one transaction: the audit rows,
the folded analysis rows and the consumed positions commit together, so a
crash at any point neither loses nor double-applies an event.

The projector's database path is SQLAlchemy Core, like its replays and the
migrations: the engine, its pool, the transaction and the schema translation of
a replay are SQLAlchemy's, and the batch's statements (``projector.batch_sql``)
go through the same connection as driver SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events import EVENTS_TOPIC, AnalysisDeleted, Envelope, MediaAnalysisError
from infra.database import DRIVER_ERRORS
from projector import counts
from projector.batch_sql import JSON_REQUEST_COLUMNS, REQUEST_COLUMNS, BatchSql, sql_for
from read_model.changes import Change, changes_notices
from read_model.fold import AnalysisState, apply
from read_model.tables import PROJECTION, analysis_event, projection_position


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka record; ``envelope`` is None for an undecodable one.

    ``data_json`` is the event data as the audit row stores it (``DecodedRecord.data_json``:
    the record value itself unless the event was upcast); None means "serialise
    ``envelope.data``"."""

    partition: int
    offset: int
    envelope: Envelope | None
    data_json: str | None = None


class StoreUnavailable(MediaAnalysisError):
    """PostgreSQL failed a batch's statement (down, restarted, unreachable)."""


@dataclass(frozen=True, slots=True)
class Settled:
    """An analysis the batch moved to a terminal status, for the projector's log."""

    analysis_id: UUID
    status: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    applied: int
    skipped: int
    positions: dict[int, int]
    settled: tuple[Settled, ...] = ()


SETTLED = frozenset({"completed", "failed", "deleted"})


async def stored_positions(
    engine: AsyncEngine, projection: str = PROJECTION, topic: str = EVENTS_TOPIC
) -> dict[int, int]:
    """Next offset to read per partition, as last committed with the rows."""
    query = select(projection_position.c.partition, projection_position.c.next_offset).where(
        projection_position.c.projection == projection, projection_position.c.topic == topic
    )
    async with engine.connect() as conn:
        return {row.partition: row.next_offset for row in (await conn.execute(query)).all()}


async def _lock_positions(
    conn: AsyncConnection, sql: BatchSql, partitions: set[int]
) -> dict[int, int]:
    """The stored positions, locked (the batch's first statement begins its transaction)."""
    rows = await conn.exec_driver_sql(
        sql.lock_positions, (PROJECTION, EVENTS_TOPIC, sorted(partitions))
    )
    return {row.partition: row.next_offset for row in rows}


def _first_of_each_event(records: Sequence[Record]) -> list[Record]:
    """The decodable records, each event id once (its first record): an event
    produced twice applies once, wherever the batch boundaries fall."""
    seen: set[str] = set()
    out: list[Record] = []
    for r in records:
        if r.envelope is not None and r.envelope.id not in seen:
            seen.add(r.envelope.id)
            out.append(r)
    return out


async def _insert_new_events(
    conn: AsyncConnection, sql: BatchSql, records: Sequence[Record]
) -> list[Record]:
    """Insert the audit rows; return the records whose event was not there before."""
    if not records:
        return []
    envelopes = [r.envelope for r in records if r.envelope is not None]
    rows = await conn.exec_driver_sql(
        sql.insert_events,
        (
            [e.id for e in envelopes],
            [e.data.analysis_id for e in envelopes],
            [e.type for e in envelopes],
            [e.schema_version for e in envelopes],
            [e.time for e in envelopes],
            [r.partition for r in records],
            [r.offset for r in records],
            [e.correlation_id for e in envelopes],
            [e.causation_id for e in envelopes],
            [
                r.data_json if r.data_json is not None else e.data.model_dump_json()
                for r, e in zip(records, envelopes, strict=True)
            ],
        ),
    )
    new_ids = {row[0] for row in rows}
    return [r for r, e in zip(records, envelopes, strict=True) if e.id in new_ids]


async def _load_states(
    conn: AsyncConnection, sql: BatchSql, ids: set[UUID]
) -> dict[UUID, AnalysisState]:
    if not ids:
        return {}
    rows = await conn.exec_driver_sql(sql.load_states, (list(ids),))
    states = (AnalysisState.from_row(row._mapping) for row in rows)
    return {state.id: state for state in states}


async def _save_states(
    conn: AsyncConnection, sql: BatchSql, states: Sequence[AnalysisState]
) -> None:
    if not states:
        return
    columns = tuple(
        [json.dumps(getattr(s, name)) for s in states]
        if name in JSON_REQUEST_COLUMNS
        else [getattr(s, name) for s in states]
        for name, _ in REQUEST_COLUMNS
    )
    await conn.exec_driver_sql(sql.save_states, columns)


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


async def _save_positions(conn: AsyncConnection, sql: BatchSql, positions: dict[int, int]) -> None:
    """Save the positions (the live ones are announced when the transaction commits)."""
    partitions = sorted(positions)
    await conn.exec_driver_sql(
        sql.save_positions,
        (PROJECTION, EVENTS_TOPIC, partitions, [positions[p] for p in partitions]),
    )


async def _announce_changes(
    conn: AsyncConnection,
    sql: BatchSql,
    changed: dict[UUID, AnalysisState],
    applied: Sequence[Record],
) -> None:
    """Name the changed analyses, each with the latest event applied to it, on
    ``read_model.CHANGES_CHANNEL`` (delivered when the transaction commits)."""
    if sql.announce_changes is None or not changed:
        return
    latest: dict[UUID, Record] = {}
    for record in applied:  # in partition order: the last one of each analysis wins
        if record.envelope is not None and record.envelope.analysis_id in changed:
            latest[record.envelope.analysis_id] = record
    changes = [
        Change(aid, changed[aid].created_by, r.envelope.type, r.partition, r.offset)
        for aid, r in latest.items()
        if r.envelope is not None
    ]
    await conn.exec_driver_sql(sql.announce_changes, (changes_notices(changes),))


async def apply_batch(engine: AsyncEngine, records: Sequence[Record]) -> BatchOutcome:
    """Fold ``records`` (in partition order) into the read model, exactly once.

    Raises :class:`StoreUnavailable` (or SQLAlchemy's errors) when PostgreSQL
    cannot take the batch; nothing of it is then committed."""
    if not records:
        return BatchOutcome(0, 0, {})
    try:
        return await _apply(engine, records)
    except DRIVER_ERRORS as exc:
        raise StoreUnavailable(f"PostgreSQL failed the batch: {exc}") from exc


async def _apply(engine: AsyncEngine, records: Sequence[Record]) -> BatchOutcome:
    async with engine.begin() as conn:
        sql = sql_for(conn)
        stored = await _lock_positions(conn, sql, {r.partition for r in records})
        fresh = [r for r in records if r.offset >= stored.get(r.partition, 0)]
        to_apply = await _insert_new_events(conn, sql, _first_of_each_event(fresh))
        touched = {r.envelope.analysis_id for r in to_apply if r.envelope is not None}
        states = await _load_states(conn, sql, touched)
        loaded: dict[UUID, AnalysisState | None] = dict(states)
        changed: dict[UUID, AnalysisState] = {}
        settled: list[Settled] = []
        for record in to_apply:
            assert record.envelope is not None
            analysis_id = record.envelope.analysis_id
            before = states.get(analysis_id)
            after = apply(before, record.envelope)
            if after is not None and after is not before:
                states[analysis_id] = after
                changed[analysis_id] = after
                if after.status in SETTLED and (before is None or before.status != after.status):
                    settled.append(
                        Settled(analysis_id, after.status, record.envelope.correlation_id)
                    )
        await _save_states(conn, sql, list(changed.values()))
        await _announce_changes(conn, sql, changed, to_apply)
        await counts.apply_deltas(conn, sql, counts.deltas(loaded, changed))
        await _erase_audit_content(
            conn, {a for a, s in states.items() if s.status == "deleted" and a in touched}
        )
        positions = dict(stored)
        for r in fresh:
            positions[r.partition] = max(positions.get(r.partition, 0), r.offset + 1)
        if fresh:
            await _save_positions(
                conn, sql, {p: positions[p] for p in {r.partition for r in fresh}}
            )
    return BatchOutcome(
        applied=len(to_apply),
        skipped=len(records) - len(to_apply),
        positions=positions,
        settled=tuple(settled),
    )
