"""A replay by two writers (this process and a child, on disjoint partitions)
builds exactly the tables one writer builds from the same log (real Kafka and
PostgreSQL, the projector's own store)."""

from __future__ import annotations

import asyncio
import random
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text

from events import (
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
    new_envelope,
)
from infra.settings import Settings
from projector import projection_schema as schemas
from projector.replay import end_offsets, log_reader, replay, replay_in_two
from projector.store import stored_positions
from tests.integration.log_tools import produce

pytestmark = pytest.mark.stack

TABLES = ("analysis_request", "analysis_event", "analysis_count", "projection_position")


def _history(rng: random.Random) -> list[Envelope]:
    a = uuid4()
    steps: list[AnalysisEvent] = [
        AnalysisRequested(
            analysis_id=a, prompt="two", media_url="https://e.com/a", media_type="audio"
        ),
        AnalysisStarted(analysis_id=a, processor="t", attempt=1),
        *[
            AnalysisProgressed(
                analysis_id=a, stage=f"s{i}", stage_status="completed", progress=20 * i
            )
            for i in range(1, 4)
        ],
        AnalysisCompleted(analysis_id=a, results={"n": 1}),
    ]
    if rng.random() < 0.3:
        steps.append(AnalysisDeleted(analysis_id=a))
    return [new_envelope(e, source="/tests/two-writers") for e in steps]


def test_given_a_log_when_two_writers_replay_it_then_the_tables_equal_one_writers(
    run: Any, prepared: dict[str, str]
) -> None:
    rng = random.Random()
    envelopes = [e for _ in range(60) for e in _history(rng)]
    envelopes += rng.sample(envelopes, 20)  # produced twice, later
    asyncio.run(produce(prepared["KAFKA_BOOTSTRAP_SERVERS"], envelopes))
    settings = Settings(
        database_url=prepared["DATABASE_URL"],
        kafka_bootstrap_servers=prepared["KAFKA_BOOTSTRAP_SERVERS"],
    )
    one, two = (f"replay_{name}_{uuid4().hex[:8]}" for name in ("one", "two"))

    async def replay_both(engine: Any) -> tuple[int, int, dict[int, int], dict[str, int]]:
        async with engine.begin() as conn:
            live = await schemas.live_schema(conn)
            for schema in (one, two):
                await schemas.create_like_live(conn, schema, live)
        try:
            seen: list[int] = []
            async with log_reader(settings) as consumer:
                ends = await end_offsets(consumer)
                await replay(schemas.engine_for(engine, one), consumer, ends)
                writers = await replay_in_two(
                    schemas.engine_for(engine, two), two, consumer, settings, ends,
                    seen.append, two_writers_above=0,
                )  # fmt: skip
            positions = await stored_positions(schemas.engine_for(engine, two))
            differing: dict[str, int] = {}
            async with engine.connect() as conn:
                for table in TABLES:
                    a, b = f'"{one}".{table}', f'"{two}".{table}'
                    differing[table] = await conn.scalar(
                        text(
                            f"SELECT count(*) FROM ((SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) "
                            f"UNION ALL (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a})) AS d"
                        )
                    )
            return writers, sum(seen), positions | {-1: sum(ends.values())}, differing
        finally:
            async with engine.begin() as conn:
                for schema in (one, two):
                    await schemas.drop(conn, schema)

    writers, reported, positions, differing = run(replay_both)
    total = positions.pop(-1)
    assert writers == 2
    assert differing == dict.fromkeys(TABLES, 0)
    assert sum(positions.values()) == total == reported  # both writers' batches were reported
