"""Exactly-once effect under crashes: a projector SIGKILLed at random moments
while a few thousand events stream in ends with the table a replay from offset 0
gives, and every event exactly once in the audit trail.

The crashing projector is a process of its own with a database of its own and a
consumer group of its own (PROJECTOR_GROUP_ID), so it reads every partition of
the shared topic without taking any from the session's projector, and the other
tests keep their read-your-writes guarantees while this one kills it.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from events import (
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
    new_envelope,
)
from tests.conftest import MediaServer, Service, wait_until
from tests.integration.log_tools import end_offsets, positions, produce, projection_cli, sql

pytestmark = pytest.mark.stack

ANALYSES = 30
PROGRESS_STEPS = 95  # about 3000 events in all


def _history(analysis_id: UUID, media_url: str, rng: random.Random) -> list[Envelope]:
    """One analysis's events in order, with timestamps a second apart."""
    steps: list[AnalysisEvent] = [
        AnalysisRequested(
            analysis_id=analysis_id, prompt="crash test", media_url=media_url, media_type="video"
        ),
        AnalysisStarted(analysis_id=analysis_id, processor="crash-test", attempt=1),
    ]
    steps += [
        AnalysisProgressed(
            analysis_id=analysis_id, stage=f"s{i}", stage_status="completed", progress=i
        )
        for i in range(1, PROGRESS_STEPS + 1)
    ]
    if rng.random() < 0.5:
        steps.append(AnalysisCompleted(analysis_id=analysis_id, results={"n": rng.randint(1, 9)}))
    else:
        steps.append(
            AnalysisFailed(
                analysis_id=analysis_id, error_code="x", error_message="y", retryable=False
            )
        )
    if rng.random() < 0.3:
        steps.append(AnalysisDeleted(analysis_id=analysis_id))
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        new_envelope(e, source="/tests/crash", time=start + timedelta(seconds=i))
        for i, e in enumerate(steps)
    ]


def _interleaved(histories: list[list[Envelope]], rng: random.Random) -> list[Envelope]:
    """All events, analyses interleaved at random, each analysis in its own order,
    and about one in twenty produced twice (a producer retrying after a timeout)."""
    queues = [list(h) for h in histories]
    out: list[Envelope] = []
    while queues:
        queue = rng.choice(queues)
        event = queue.pop(0)
        out.append(event)
        if rng.random() < 0.05:
            out.append(event)
        if not queue:
            queues.remove(queue)
    return out


@pytest.fixture
def crash_db(migrated: dict[str, str]) -> Iterator[dict[str, str]]:
    """An environment whose projector has a database and a consumer group of its own."""
    name = f"crash_{uuid4().hex[:8]}"
    base = migrated["DATABASE_URL"]
    sql(base, f'CREATE DATABASE "{name}"')
    env = {
        **migrated,
        "DATABASE_URL": base.rsplit("/", 1)[0] + f"/{name}",
        "PROJECTOR_GROUP_ID": f"crash-projector-{name}",
    }
    from tests.conftest import _cli

    _cli("migrate", env)
    yield env
    sql(base, f'DROP DATABASE "{name}" WITH (FORCE)')


def test_given_a_projector_killed_at_random_moments_then_each_event_is_applied_exactly_once(
    crash_db: dict[str, str], prepared: dict[str, str], media_server: MediaServer
) -> None:
    rng = random.Random()
    bootstrap = prepared["KAFKA_BOOTSTRAP_SERVERS"]
    # The session's processors see these requests too; a 404 fails them at once.
    histories = [
        _history(uuid4(), media_server.url(f"absent-{uuid4().hex}.mp4"), rng)
        for _ in range(ANALYSES)
    ]
    stream = _interleaved(histories, rng)
    produced = threading.Event()

    def feed() -> None:  # about 200 events/s, so the kills land while work streams in
        asyncio.run(produce(bootstrap, stream, chunk=40, pause=0.2))
        produced.set()

    feeder = threading.Thread(target=feed, daemon=True)
    deadline = time.monotonic() + 120
    projector = Service("crash-projector", "projector", crash_db)
    kills = 0
    try:
        feeder.start()
        while not produced.is_set() or kills < 4:
            assert time.monotonic() < deadline, "the crash loop ran out of time"
            before = sum(positions(crash_db["DATABASE_URL"]).values())
            wait_until(
                lambda b=before: (
                    produced.is_set() or sum(positions(crash_db["DATABASE_URL"]).values()) > b
                ),
                timeout=60,
                interval=0.05,
                what="the restarted projector to apply a batch",
            )
            time.sleep(rng.uniform(0, 0.4))  # a random moment, not a synchronisation
            projector.process.kill()  # SIGKILL: no clean-up, no commit of anything in flight
            projector.process.wait()
            kills += 1
            projector.stop()
            # A fresh group per restart: positions come from the database, not the group,
            # and the killed member's session would otherwise hold up the rebalance.
            group = f"{crash_db['PROJECTOR_GROUP_ID']}-{kills}"
            projector = Service(
                "crash-projector", "projector", {**crash_db, "PROJECTOR_GROUP_ID": group}
            )
        feeder.join(timeout=60)
        ends = end_offsets(bootstrap)
        wait_until(
            lambda: all(
                positions(crash_db["DATABASE_URL"]).get(p, 0) >= end for p, end in ends.items()
            ),
            timeout=90,
            what="the last projector to catch up with the log",
        )
    finally:
        projector.stop()

    event_ids = {e.id for e in stream}
    rows = sql(
        crash_db["DATABASE_URL"],
        "SELECT event_id, count(*) AS n FROM analysis_event WHERE event_id = ANY($1::text[]) "
        "GROUP BY event_id",
        list(event_ids),
    )
    assert kills >= 4
    assert {r["event_id"] for r in rows} == event_ids
    assert all(r["n"] == 1 for r in rows)

    verified = projection_cli(crash_db, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verify OK" in verified.stdout
