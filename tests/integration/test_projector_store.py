"""The projector's one-transaction batch store on the real PostgreSQL:
re-delivered records and re-produced events leave the table unchanged."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select

from events import (
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
    new_envelope,
)
from media_analysis.read_model import analysis_event, analysis_request
from projector.store import Record, apply_batch, stored_positions


def _events(analysis_id: UUID) -> list[Envelope]:
    steps: list[AnalysisEvent] = [
        AnalysisRequested(
            analysis_id=analysis_id, prompt="p", media_url="https://e.com/a", media_type="image"
        ),
        AnalysisStarted(analysis_id=analysis_id, processor="t", attempt=1),
        AnalysisCompleted(analysis_id=analysis_id, results={"n": 1}),
    ]
    return [new_envelope(e, source="/test") for e in steps]


def _row(run: Any, analysis_id: UUID) -> dict[str, Any]:
    async def read(engine: Any) -> dict[str, Any]:
        async with engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(analysis_request).where(analysis_request.c.id == analysis_id)
                    )
                )
                .mappings()
                .one()
            )
            count = len(
                (
                    await conn.execute(
                        select(analysis_event).where(analysis_event.c.analysis_id == analysis_id)
                    )
                ).all()
            )
        return {**row, "audit_rows": count}

    return run(read)


def test_a_redelivered_batch_and_reproduced_events_change_nothing(run: Any) -> None:
    # A partition of its own, far from what the services use, so positions don't collide.
    partition = 900 + uuid4().int % 90
    analysis_id = uuid4()
    envelopes = _events(analysis_id)
    records = [Record(partition, offset, env) for offset, env in enumerate(envelopes)]

    first = run(lambda engine: apply_batch(engine, records))
    assert first.applied == 3
    after_first = _row(run, analysis_id)
    assert after_first["status"] == "completed"
    assert after_first["audit_rows"] == 3

    again = run(lambda engine: apply_batch(engine, records))
    assert (again.applied, again.skipped) == (0, 3)

    # The same events produced a second time land at later offsets: still no effect.
    reproduced = [Record(partition, 10 + i, env) for i, env in enumerate(envelopes)]
    third = run(lambda engine: apply_batch(engine, reproduced))
    assert third.applied == 0
    assert _row(run, analysis_id) == after_first
    assert run(stored_positions)[partition] == 13


def test_an_undecodable_record_still_advances_the_position(run: Any) -> None:
    partition = 800 + uuid4().int % 90
    outcome = run(lambda engine: apply_batch(engine, [Record(partition, 0, None)]))
    assert outcome.applied == 0
    assert run(stored_positions)[partition] == 1


def test_a_deleted_analysis_keeps_its_audit_rows_without_the_clients_content(run: Any) -> None:
    partition = 700 + uuid4().int % 90
    analysis_id = uuid4()
    envelopes = [
        *_events(analysis_id),
        new_envelope(AnalysisDeleted(analysis_id=analysis_id), source="/test"),
    ]
    records = [Record(partition, offset, env) for offset, env in enumerate(envelopes)]
    run(lambda engine: apply_batch(engine, records[:3]))
    run(lambda engine: apply_batch(engine, records[3:]))

    row = _row(run, analysis_id)
    assert (row["status"], row["prompt"], row["source_url"], row["results"]) == (
        "deleted",
        None,
        "",
        {},
    )
    assert row["audit_rows"] == 4

    async def audit(engine: Any) -> list[Any]:
        async with engine.connect() as conn:
            query = select(analysis_event.c.type, analysis_event.c.data).where(
                analysis_event.c.analysis_id == analysis_id
            )
            return list((await conn.execute(query)).all())

    by_type = {t.rsplit(".", 1)[1]: d for t, d in run(audit)}
    assert "prompt" not in by_type["requested"]
    assert "media_url" not in by_type["requested"]
    assert by_type["requested"]["erased"] is True
    assert "results" not in by_type["completed"]
    assert by_type["started"]["processor"] == "t"  # not the client's content: kept
