"""The projector's one-transaction batch store on the real PostgreSQL:
re-delivered records and re-produced events leave the table unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from aiokafka.structs import ConsumerRecord
from sqlalchemy import select

from events import (
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
    encode,
    new_envelope,
)
from projector.consumer import to_records
from projector.store import Record, apply_batch, stored_positions
from read_model.tables import analysis_event, analysis_request
from tests.partitions import own_partition


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
    partition = own_partition()
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
    partition = own_partition()
    outcome = run(lambda engine: apply_batch(engine, [Record(partition, 0, None)]))
    assert outcome.applied == 0
    assert run(stored_positions)[partition] == 1


def test_a_deleted_analysis_keeps_its_audit_rows_without_the_clients_content(run: Any) -> None:
    partition = own_partition()
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


def _consumed(partition: int, offset: int, value: bytes, headers: Any) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        "media-analysis.events", partition, offset, 0, 0, None, value, None, 0, 0, list(headers)
    )


def _audit(run: Any, analysis_id: UUID) -> dict[str, Any]:
    async def read(engine: Any) -> dict[str, Any]:
        async with engine.connect() as conn:
            query = select(analysis_event).where(analysis_event.c.analysis_id == analysis_id)
            return {r.type.rsplit(".", 1)[1]: r for r in (await conn.execute(query)).all()}

    return run(read)


def test_the_audit_row_holds_the_record_value_or_for_an_upcast_event_its_upcast_form(
    run: Any,
) -> None:
    partition = own_partition()
    analysis_id = uuid4()
    requested, started, _ = (encode(e) for e in _events(analysis_id))
    # Another producer's spelling of the same data: key order and spacing differ.
    respelled = json.dumps(dict(reversed(json.loads(started.value).items())), indent=1)
    deleted = encode(new_envelope(AnalysisDeleted(analysis_id=analysis_id), source="/test"))
    v1_headers = [(k, b"1" if k == "ce_schemaversion" else v) for k, v in deleted.headers]
    v1_value = json.dumps({"analysis_id": str(analysis_id), "reason": "no longer needed"})
    records, poison = to_records(
        [
            _consumed(partition, 0, requested.value, requested.headers),
            _consumed(partition, 1, respelled.encode(), started.headers),
            _consumed(partition, 2, v1_value.encode(), v1_headers),
        ]
    )
    assert poison == []
    assert records[0].data_json == requested.value.decode()  # passed through as it came
    run(lambda engine: apply_batch(engine, records))

    audit = _audit(run, analysis_id)
    kept = {k: v for k, v in audit["started"].data.items() if k != "erased"}
    assert kept == json.loads(started.value)  # the respelled value, as JSONB
    assert audit["deleted"].data == {
        "analysis_id": str(analysis_id),
        "initiator": "client",
        "note": "no longer needed",
    }
    assert audit["deleted"].schema_version == 2
    assert audit["requested"].data["erased"] is True  # erasure still applies on top
    assert _row(run, analysis_id)["status"] == "deleted"


def test_an_event_produced_twice_within_one_batch_applies_once(run: Any) -> None:
    partition = own_partition()
    analysis_id = uuid4()
    at = datetime(2030, 1, 1, tzinfo=UTC)
    requested, started = _events(analysis_id)[:2]
    early, late = (
        new_envelope(
            AnalysisProgressed(
                analysis_id=analysis_id, stage=f"s{p}", stage_status="completed", progress=p
            ),
            source="/test",
            time=at + timedelta(seconds=p),
        )
        for p in (10, 20)
    )
    batch = [requested, started, early, late, early]  # the producer retried `early` late
    outcome = run(
        lambda engine: apply_batch(
            engine, [Record(partition, offset, env) for offset, env in enumerate(batch)]
        )
    )
    assert (outcome.applied, outcome.skipped) == (4, 1)
    row = _row(run, analysis_id)
    assert (row["progress"], row["updated_at"], row["audit_rows"]) == (
        20,
        late.time,
        4,
    )  # as if `early` had come once: a replay with other batch boundaries agrees
    assert _audit(run, analysis_id)["progressed"] is not None
    assert run(stored_positions)[partition] == 5
