"""How fast does the projector work off a backlog?

Produces N events (AnalysisRequested, Started, 7 Progressed, Completed per
analysis) to the event topic, then starts a real `media-analysis projector`
process with a database and consumer group of its own and times it until its
stored positions reach the end of the log; then times `media-analysis
projection rebuild` replaying the same log into fresh tables. Writes the result
to benchmarks/projector_backlog.json.

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... PYTHONPATH=. .venv/bin/python \
        benchmarks/projector_backlog.py 20000
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import asyncpg

from events import (
    AnalysisCompleted,
    AnalysisEvent,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
    new_envelope,
)
from media_analysis import migrations
from media_analysis.settings import Settings
from tests.integration.log_tools import end_offsets, plain_dsn, positions, produce

ROOT = Path(__file__).resolve().parents[1]


def events_for(count: int) -> list[Envelope]:
    out: list[Envelope] = []
    while len(out) < count:
        a = uuid4()
        steps: list[AnalysisEvent] = [
            AnalysisRequested(
                analysis_id=a, prompt="bench", media_url="https://x.invalid/a", media_type="video"
            ),
            AnalysisStarted(analysis_id=a, processor="bench", attempt=1),
            *[
                AnalysisProgressed(
                    analysis_id=a, stage=f"s{i}", stage_status="completed", progress=10 * i
                )
                for i in range(1, 8)
            ],
            AnalysisCompleted(analysis_id=a, results={"n": 1}),
        ]
        out += [new_envelope(e, source="/benchmarks") for e in steps]
    return out[:count]


async def admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main(count: int) -> None:
    settings = Settings()
    bootstrap = settings.kafka_bootstrap_servers
    asyncio.run(produce(bootstrap, events_for(count)))
    ends = end_offsets(bootstrap)
    backlog = sum(ends.values())
    name = f"bench_{uuid4().hex[:8]}"
    url = settings.database_url.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(admin(settings.database_url, f'CREATE DATABASE "{name}"'))
    migrations.upgrade(Settings(database_url=url))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PROJECTOR_GROUP_ID": f"bench-{name}",
        "LOG_LEVEL": "WARNING",
    }
    started = time.monotonic()
    projector = subprocess.Popen(
        [str(Path(sys.executable).parent / "media-analysis"), "projector"], env=env, cwd=ROOT
    )
    first: float | None = None
    try:
        while True:
            done = sum(positions(url).values())
            if done and first is None:
                first, first_done = time.monotonic(), done
            if all(positions(url).get(p, 0) >= e for p, e in ends.items()):
                break
            time.sleep(0.05)
        finished = time.monotonic()
        projector.terminate()
        projector.wait(timeout=30)
        # The same backlog replayed by `projection rebuild` into fresh tables.
        rebuild_started = time.monotonic()
        subprocess.run(
            [str(Path(sys.executable).parent / "media-analysis"), "projection", "rebuild"],
            env=env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        rebuild_seconds = time.monotonic() - rebuild_started
    finally:
        projector.terminate()
        projector.wait(timeout=30)
        asyncio.run(admin(settings.database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))
    assert first is not None
    result = {
        "produced": count,
        "backlog_events": backlog,
        "seconds_including_start_up": round(finished - started, 2),
        "events_per_second_steady": round((backlog - first_done) / max(finished - first, 1e-6)),
        "batch_max_records": 500,
        "rebuild_seconds": round(rebuild_seconds, 2),
        "rebuild_events_per_second": round(backlog / rebuild_seconds),
        "machine": os.environ.get(
            "BENCH_MACHINE", "2-core VM, PostgreSQL with fsync off, Kafka on the same machine"
        ),
    }
    (ROOT / "benchmarks" / "projector_backlog.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
