"""How fast does the projector work off a backlog?

Produces N events (AnalysisRequested, Started, 7 Progressed, Completed per
analysis) to the event topic, then starts a real `media-analysis projector`
process with a database and consumer group of its own and times it until its
stored positions reach the end of the log; then times `media-analysis
projection rebuild` replaying the same log into fresh tables. Writes the result
to benchmarks/projector_backlog.json (or ``--output``).

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... PYTHONPATH=. .venv/bin/python \
        benchmarks/projector_backlog.py 20000

``--reuse-log`` produces nothing when the log already holds at least N events,
so repeated runs (before/after a change, medians) work off the very same log
instead of a longer one each time; the backlog is always the whole log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import asyncpg

from benchmarks.procstat import TICKS, cpu_seconds, machine_busy_percent, machine_sample
from events import (
    EVENTS_TOPIC,
    AnalysisCompleted,
    AnalysisEvent,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
    new_envelope,
)
from infra import migrations
from infra.settings import Settings
from tests.integration.log_tools import end_offsets, plain_dsn, produce

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


async def _show(url: str, *settings: str) -> list[str]:
    """The server's values of ``settings``, on one connection."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return [str(await conn.fetchval(f"SHOW {name}")) for name in settings]
    finally:
        await conn.close()


def postgres_cpu_seconds(data_directory: str) -> float:
    """CPU seconds of the whole PostgreSQL server so far, ended backends included
    (the server is the benchmark's own, on this machine)."""
    pid = int(Path(data_directory, "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    reaped = (int(fields[13]) + int(fields[14])) / TICKS
    return cpu_seconds(pid) + reaped


async def caught_up(url: str, ends: dict[int, int]) -> tuple[float, int]:
    """Poll the stored positions (on one connection, so the polling costs the
    server little) until they reach ``ends``; when the first batch landed, and
    how many events it held."""
    conn = await asyncpg.connect(plain_dsn(url))
    query = (
        "SELECT partition, next_offset FROM projection_position "
        "WHERE projection = 'analysis_request' AND topic = $1"
    )
    first: tuple[float, int] | None = None
    try:
        while True:
            stored = {
                r["partition"]: r["next_offset"] for r in await conn.fetch(query, EVENTS_TOPIC)
            }
            if first is None and sum(stored.values()):
                first = time.monotonic(), sum(stored.values())
            if all(stored.get(p, 0) >= e for p, e in ends.items()):
                return first or (time.monotonic(), sum(stored.values()))
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(count: int, *, reuse_log: bool, output: Path, projectors: int = 1) -> None:
    settings = Settings()
    bootstrap = settings.kafka_bootstrap_servers
    if not (reuse_log and sum(end_offsets(bootstrap).values()) >= count):
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
    data_directory, fsync = asyncio.run(_show(settings.database_url, "data_directory", "fsync"))
    pg_before, machine_before = postgres_cpu_seconds(data_directory), machine_sample()
    started = time.monotonic()
    # Several projectors join one consumer group and split the partitions.
    running = [
        subprocess.Popen(
            [str(Path(sys.executable).parent / "media-analysis"), "projector"], env=env, cwd=ROOT
        )
        for _ in range(projectors)
    ]
    try:
        first, first_done = asyncio.run(caught_up(url, ends))
        finished = time.monotonic()
        projector_cpu = sum(cpu_seconds(p.pid) for p in running)
        pg_backlog = postgres_cpu_seconds(data_directory) - pg_before
        machine_backlog = machine_busy_percent(machine_before, machine_sample())
        for projector in running:
            projector.terminate()
            projector.wait(timeout=30)
        # The same backlog replayed by `projection rebuild` into fresh tables.
        pg_before, machine_before = postgres_cpu_seconds(data_directory), machine_sample()
        children_before = children_cpu_seconds()
        rebuild_started = time.monotonic()
        subprocess.run(
            [str(Path(sys.executable).parent / "media-analysis"), "projection", "rebuild"],
            env=env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        rebuild_seconds = time.monotonic() - rebuild_started
        rebuild_cpu = children_cpu_seconds() - children_before
        pg_rebuild = postgres_cpu_seconds(data_directory) - pg_before
        machine_rebuild = machine_busy_percent(machine_before, machine_sample())
    finally:
        for projector in running:
            projector.terminate()
            projector.wait(timeout=30)
        asyncio.run(admin(settings.database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))
    result = {
        "produced": count,
        "backlog_events": backlog,
        "seconds_including_start_up": round(finished - started, 2),
        "projectors": projectors,
        "events_per_second_steady": round((backlog - first_done) / max(finished - first, 1e-6)),
        "projector_cpu_seconds_including_start_up": round(projector_cpu, 2),
        "projector_cpu_us_per_event": round(1e6 * projector_cpu / backlog, 1),
        "postgres_cpu_seconds": round(pg_backlog, 2),
        "postgres_cpu_us_per_event": round(1e6 * pg_backlog / backlog, 1),
        "machine_busy_percent": machine_backlog,
        "rebuild_seconds": round(rebuild_seconds, 2),
        "rebuild_events_per_second": round(backlog / rebuild_seconds),
        "rebuild_cpu_seconds_including_start_up": round(rebuild_cpu, 2),
        "rebuild_cpu_us_per_event": round(1e6 * rebuild_cpu / backlog, 1),
        "rebuild_postgres_cpu_seconds": round(pg_rebuild, 2),
        "rebuild_postgres_cpu_us_per_event": round(1e6 * pg_rebuild / backlog, 1),
        "rebuild_machine_busy_percent": machine_rebuild,
        "postgres_fsync": fsync,  # as the server reports it, not as assumed
        "machine": os.environ.get("BENCH_MACHINE", "2-core VM, Kafka on the same machine"),
    }
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("events", type=int, nargs="?", default=20000)
    parser.add_argument("--reuse-log", action="store_true", help="keep a long enough log")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "projector_backlog.json"
    )
    parser.add_argument(
        "--projectors", type=int, default=1, help="projector processes in the one group"
    )
    args = parser.parse_args()
    main(args.events, reuse_log=args.reuse_log, output=args.output, projectors=args.projectors)
