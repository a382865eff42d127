"""History totals from the count projection equal count(*) for every filter
combination, whatever the batch boundaries, duplicates included (real PostgreSQL,
the projector's own store)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import and_, func, select

from events import (
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
    new_envelope,
)
from projector.counts import recount
from projector.store import Record, apply_batch
from query_api.totals import Filters, total
from read_model.tables import analysis_count, analysis_request
from tests.partitions import own_partition

MEDIA = ("video", "audio", "image")


def _lifecycle(i: int, tenant: UUID, at: datetime) -> list[Envelope]:
    """Analysis ``i``: created at ``at``, ending in one of five states."""
    a = uuid4()
    steps: list[AnalysisEvent] = [
        AnalysisRequested(
            analysis_id=a,
            prompt="totals",
            media_url="https://e.com/a",
            media_type=MEDIA[i % 3],
            created_by=tenant,
        )
    ]
    fate = i % 5
    if fate >= 1:
        steps.append(AnalysisStarted(analysis_id=a, processor="t", attempt=1))
    if fate == 2:
        steps.append(AnalysisCompleted(analysis_id=a, results={}))
    if fate == 3:
        steps.append(
            AnalysisFailed(analysis_id=a, error_code="x", error_message="y", retryable=False)
        )
    if fate == 4:
        steps.append(AnalysisDeleted(analysis_id=a))
    return [
        new_envelope(e, source="/test", time=at + timedelta(seconds=k)) for k, e in enumerate(steps)
    ]


@pytest.fixture(scope="module")
def tenant_data(run: Any) -> tuple[UUID, datetime]:
    """90 analyses of one fresh tenant over five days of 2031 (some at midnight),
    applied in uneven batches, one of them twice."""
    tenant = uuid4()
    start = datetime(2031, 3, 10, tzinfo=UTC) + timedelta(days=uuid4().int % 300)
    moments = [start + timedelta(hours=13 * i, minutes=7 * i) for i in range(80)]
    moments += [start + timedelta(days=d) for d in range(5)] * 2  # exactly midnight
    envelopes = [e for i, at in enumerate(moments) for e in _lifecycle(i, tenant, at)]
    partition = own_partition()
    records = [Record(partition, offset, env) for offset, env in enumerate(envelopes)]
    cuts = [0, 1, 7, 50, 51, 130, len(records)]
    for low, high in itertools.pairwise(cuts):
        run(lambda engine, b=records[low:high]: apply_batch(engine, b))
    reproduced = [
        Record(partition, len(records) + k, r.envelope) for k, r in enumerate(records[40:90])
    ]
    run(lambda engine: apply_batch(engine, reproduced))  # the same events produced again
    return tenant, start


def _exact(f: Filters) -> Any:
    t = analysis_request
    conditions = [t.c.status != "deleted" if f.status is None else t.c.status == f.status]
    conditions.append(t.c.created_by == f.tenant)
    if f.media_type:
        conditions.append(t.c.media_type == f.media_type)
    if f.date_from:
        conditions.append(t.c.created_at >= f.date_from)
    if f.date_to:
        conditions.append(t.c.created_at <= f.date_to)
    return select(func.count()).select_from(t).where(and_(*conditions))


def test_given_any_filters_when_totalled_then_equal_to_count_star(
    run: Any, tenant_data: tuple[UUID, datetime]
) -> None:
    tenant, start = tenant_data
    day = timedelta(days=1)
    ranges = [
        (None, None),
        (start + timedelta(hours=5, minutes=30), start + 2 * day + timedelta(hours=17)),
        (start, start + 3 * day),  # midnight to midnight: the last midnight is inclusive
        (start + day + timedelta(hours=10), start + day + timedelta(hours=11)),
        (start + timedelta(hours=1), None),
        (None, start + 2 * day - timedelta(microseconds=1)),
        (start + 4 * day, start + 4 * day),  # one instant, holding two analyses
        (start - 10 * day, start + 40 * day),
    ]
    combos = list(
        itertools.product(
            (None, "pending", "processing", "completed", "failed", "deleted"),
            (None, "video"),
            ranges,
        )
    )

    async def check(engine: Any) -> list[tuple[Filters, int, int]]:
        wrong = []
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection  # asyncpg's, as the API's
            for status, media, (low, high) in combos:
                f = Filters(status, media, tenant, low, high)
                expected = int((await conn.execute(_exact(f))).scalar_one())
                got = await total(raw, f)
                if got != expected:
                    wrong.append((f, got, expected))
        return wrong

    assert run(check) == []
    everything = run(lambda e: _one(e, _exact(Filters("deleted", None, tenant, None, None))))
    assert everything == 18, "the fixture deleted every fifth of its 90 analyses"


async def _one(engine: Any, statement: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(statement)).scalar_one())


def test_given_rows_when_recounted_then_the_counts_are_unchanged(
    run: Any, tenant_data: tuple[UUID, datetime]
) -> None:
    tenant, _ = tenant_data

    async def counts(engine: Any) -> dict[str, int]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(analysis_count.c.bucket, analysis_count.c.n).where(
                    analysis_count.c.tenant == tenant
                )
            )
            return {r.bucket: r.n for r in rows}

    async def rebuild(engine: Any) -> int:
        async with engine.begin() as conn:
            return await recount(conn)

    kept = run(counts)
    assert sum(kept.values()) == 90
    assert all(n > 0 for n in kept.values())
    assert run(rebuild) >= len(kept)
    assert run(counts) == kept
