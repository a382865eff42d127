"""The benchmark scenarios of BENCHMARKS.md, each returning a summary dict."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks import loadgen, procstat
from benchmarks.loadgen import Request
from events import EVENTS_TOPIC, AnalysisRequested, encode, new_envelope
from infra.database import asyncpg_dsn
from query_api import cursor
from read_model.tables import RECOUNT_SQL

CLIP_DEADLINE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class BenchStack:
    """The stack scripts/bench.sh started, from the environment it exports."""

    base_url: str
    dsn: str
    """PostgreSQL as a plain ``postgresql://`` URL, for asyncpg."""
    bootstrap: str
    media_url: str
    """The 6-second clip on the local media server."""
    state: Path

    @property
    def missing_url(self) -> str:
        """A URL on the media server that answers 404: an analysis of it fails at
        its fetch, so it makes its events and rows without ffmpeg work."""
        return self.media_url.rsplit("/", 1)[0] + "/missing.mp4"

    @classmethod
    def from_env(cls) -> BenchStack:
        return cls(
            base_url=os.environ["BASE_URL"],
            dsn=asyncpg_dsn(os.environ["DATABASE_URL"]),
            bootstrap=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            media_url=os.environ["MEDIA_URL"],
            state=Path(os.environ["MA_STATE_DIR"]),
        )


MEDIA_TYPES = ("video", "audio", "document", "image", "unknown")


async def events_between(
    dsn: str, event_type: str, since: float, until: float | None = None
) -> int:
    """How many events of ``event_type`` the audit trail holds with a time from
    ``since`` to ``until`` (epoch seconds; no end when None)."""
    conn = await asyncpg.connect(dsn)
    try:
        query = (
            "SELECT count(*) FROM analysis_event WHERE type = $1 AND time >= to_timestamp($2)"
            " AND ($3::float8 IS NULL OR time < to_timestamp($3))"
        )
        return int(await conn.fetchval(query, event_type, since, until))
    finally:
        await conn.close()


def post_request(media_url: str) -> Callable[[int], Request]:
    def make(i: int) -> Request:
        body = {
            "prompt": f"bench {i} {random.random()}",  # noqa: S311
            "media_url": media_url,
            "media_type": MEDIA_TYPES[i % 5],
        }
        return ("POST", "/api/media/analyze", json.dumps(body).encode())

    return make


def status_request(ids: list[str]) -> Callable[[int], Request]:
    return lambda i: ("GET", f"/api/media/status/{ids[i % len(ids)]}", None)


def history_request(max_page: int, filtered: bool) -> Callable[[int], Request]:
    def make(i: int) -> Request:
        page = 1 + (i * 7919) % max_page
        query = f"page={page}&per_page=20"
        if filtered:
            query += f"&media_type={MEDIA_TYPES[i % 5]}&status=completed"
        return ("GET", f"/api/media/history?{query}", None)

    return make


async def event_partitions(bootstrap: str) -> set[int]:
    """The event topic's partitions, from the cluster (a consumer that is not
    subscribed has no metadata for it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (topic,) = await admin.describe_topics([EVENTS_TOPIC])
    finally:
        await admin.close()
    partitions = {int(p["partition"]) for p in topic["partitions"]}
    if not partitions:
        raise RuntimeError(f"{EVENTS_TOPIC} has no partitions: {topic}")
    return partitions


async def projector_caught_up(bootstrap: str, dsn: str, within: float = 180) -> float:
    """Wait until the projector has applied everything in the log, so one
    scenario's backlog does not slow the next; returns the seconds waited."""
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    conn = await asyncpg.connect(dsn)
    try:
        partitions = [
            TopicPartition(EVENTS_TOPIC, p) for p in sorted(await event_partitions(bootstrap))
        ]
        ends = {tp.partition: o for tp, o in (await consumer.end_offsets(partitions)).items()}
        while time.perf_counter() - started < within:
            rows = await conn.fetch(
                "SELECT partition, next_offset FROM projection_position "
                "WHERE projection = 'analysis_request'"
            )
            applied = {r["partition"]: r["next_offset"] for r in rows}
            if all(applied.get(p, 0) >= end for p, end in ends.items()):
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
        await consumer.stop()
    return round(time.perf_counter() - started, 1)


async def deep_cursors(dsn: str, every: int = 4000) -> list[str]:
    """Keyset cursors into the default listing (created_at desc), one per ``every``
    rows all the way down: what a client following ``next_cursor`` would hold."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """
            SELECT created_at, id, rn FROM (
                SELECT created_at, id,
                       row_number() OVER (ORDER BY created_at DESC, id DESC) AS rn
                FROM analysis_request WHERE status != 'deleted'
            ) AS ranked WHERE rn % $1 = 0
            """,
            every,
        )
    finally:
        await conn.close()
    return [
        cursor.encode(
            cursor.Cursor("created_at", "desc", r["created_at"], r["id"], r["rn"] // 20 + 1)
        )
        for r in rows
    ]


def history_cursor_request(cursors: list[str]) -> Callable[[int], Request]:
    return lambda i: (
        "GET",
        f"/api/media/history?per_page=20&cursor={cursors[(i * 7919) % len(cursors)]}",
        None,
    )


async def create_analyses(base_url: str, media_url: str, count: int) -> list[str]:
    """Submit ``count`` analyses (at a gentle rate) and return their ids."""
    result = await loadgen.run(
        base_url, post_request(media_url), rate=200, seconds=count / 200, keep_bodies=True
    )
    ids = [json.loads(b)["analysis_id"] for b in result.bodies if b.startswith(b'{"analysis_id')]
    if not ids:
        raise RuntimeError(f"no analysis could be created: {result.summary()}")
    return ids


API_PID: int | None = None
"""Set by benchmarks.run: the API process whose CPU time each run reports."""


async def measured(
    base_url: str,
    make: Callable[[int], Request],
    rate: float,
    seconds: float,
    connections: int = 256,
) -> dict[str, Any]:
    """One load run's summary plus the API's CPU milliseconds per answered request."""
    cpu = procstat.cpu_seconds(API_PID) if API_PID else 0.0
    summary: dict[str, Any] = (
        await loadgen.run(base_url, make, rate=rate, seconds=seconds, max_connections=connections)
    ).summary()
    if API_PID and summary["ok"]:
        spent = procstat.cpu_seconds(API_PID) - cpu
        summary["api_cpu_ms_per_request"] = round(1000 * spent / int(summary["requests"]), 3)
    return summary


async def runs(
    base_url: str,
    make: Callable[[int], Request],
    rate: float,
    seconds: float,
    repeat: int,
    connections: int = 256,
) -> dict[str, Any]:
    """``repeat`` runs of one load; the median run (by p95) is the headline."""
    summaries = []
    for _ in range(repeat):
        summaries.append(await measured(base_url, make, rate, seconds, connections))
        await asyncio.sleep(1)
    ordered = sorted(summaries, key=lambda s: float(s["p95_ms"]))
    return {"median_run": ordered[len(ordered) // 2], "runs": summaries}


async def saturation(
    base_url: str, make: Callable[[int], Request], rates: list[float], seconds: float
) -> dict[str, Any]:
    """Raise the rate until p99 passes 1 s, errors appear or the rate is not reached."""
    steps = []
    best = 0.0
    for rate in rates:
        s = await measured(base_url, make, rate, seconds)
        steps.append(s)
        achieved = float(s["achieved_rate"])
        if s["errors"] or s["non_2xx"] or float(s["p99_ms"]) > 1000 or achieved < 0.95 * rate:
            break
        best = achieved
        await asyncio.sleep(1)
    return {"saturation_rate": best, "steps": steps}


async def seed_history(dsn: str, rows: int) -> float:
    """Fill the read model with ``rows`` synthetic analyses (bench database only)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval(
            "SELECT count(*) FROM analysis_request WHERE prompt = 'bench-seed'"
        )
        if have < rows:
            await conn.execute(
                """
                INSERT INTO analysis_request (id, status, media_type, source_url, prompt,
                    progress, created_at, updated_at, completed_at)
                SELECT gen_random_uuid(),
                       (ARRAY['pending','processing','completed','failed','deleted'])[1 + i % 5],
                       (ARRAY['video','audio','document','image','unknown'])[1 + (i / 5) % 5],
                       'https://bench.invalid/' || i, 'bench-seed', (i % 101),
                       now() - make_interval(secs => i), now() - make_interval(secs => i),
                       CASE WHEN i % 5 = 2 THEN now() - make_interval(secs => i) END
                FROM generate_series($1::int, $2::int) AS i
                """,
                have + 1,
                rows,
            )
            # Rows written around the projector: rebuild the history counts from them,
            # as an operator would after a bulk load (`media-analysis projection recount`).
            await conn.execute("DELETE FROM analysis_count")
            await conn.execute(RECOUNT_SQL)
            await conn.execute("ANALYZE analysis_request")
            await conn.execute("ANALYZE analysis_count")
    finally:
        await conn.close()
    return round(time.perf_counter() - started, 1)


async def total_costs(dsn: str, repeat: int = 5) -> dict[str, float]:
    """Median milliseconds of an exact count(*) of the listing on the seeded table,
    and of the same total from the count projection (what the endpoint runs)."""
    statements = {
        "count_star_ms": "SELECT count(*) FROM analysis_request WHERE status != 'deleted'",
        "count_projection_ms": (
            "SELECT coalesce(sum(n), 0) FROM analysis_count WHERE status != 'deleted'"
        ),
    }
    conn = await asyncpg.connect(dsn)
    costs: dict[str, float] = {}
    try:
        for name, sql in statements.items():
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                await conn.fetchval(sql)
                times.append((time.perf_counter() - started) * 1000)
            costs[name] = round(sorted(times)[len(times) // 2], 2)
    finally:
        await conn.close()
    return costs


async def visibility_lag(bootstrap: str, dsn: str, rate: float, seconds: float) -> dict[str, Any]:
    """Produce AnalysisRequested at ``rate``; time until the projection has applied each."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    conn = await asyncpg.connect(dsn)
    sent: list[tuple[int, int, float]] = []
    lags: list[float] = []
    try:

        async def produce() -> None:
            start = time.perf_counter()
            futures = []
            for i in range(int(rate * seconds)):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                event = AnalysisRequested(
                    analysis_id=uuid.uuid4(),
                    prompt="lag",
                    media_url="https://bench.invalid/x",
                    media_type="unknown",
                )
                record = encode(new_envelope(event, source="/bench"))
                t = time.perf_counter()
                fut = await producer.send(
                    EVENTS_TOPIC, record.value, key=record.key, headers=list(record.headers)
                )
                fut.add_done_callback(
                    lambda f, t=t: sent.append((f.result().partition, f.result().offset, t))
                )
                futures.append(fut)
            await asyncio.gather(*futures)

        async def watch() -> None:
            # Acknowledgements arrive in offset order per partition, so each partition's
            # pending events form a queue: a poll pops only what it sees applied, and
            # the watcher's CPU stays small beside the projector it measures.
            pending: dict[int, deque[tuple[int, float]]] = {}
            taken = 0
            deadline = time.perf_counter() + seconds + 30
            while time.perf_counter() < deadline:
                rows = await conn.fetch(
                    "SELECT partition, next_offset FROM projection_position "
                    "WHERE projection = 'analysis_request'"
                )
                now = time.perf_counter()
                for p, o, t in sent[taken:]:
                    pending.setdefault(p, deque()).append((o, t))
                taken = len(sent)
                for row in rows:
                    queue = pending.get(row["partition"])
                    while queue and queue[0][0] < row["next_offset"]:
                        lags.append(now - queue.popleft()[1])
                if producing.done() and taken == len(sent) and not any(pending.values()):
                    return
                await asyncio.sleep(0.002)

        producing = asyncio.create_task(produce())
        await asyncio.gather(producing, watch())
    finally:
        await producer.stop()
        await conn.close()
    # Lag runs from the moment the event was handed to the producer to the first poll
    # (every 2 ms) that sees the projection past its offset.
    lags.sort()

    def pct(p: float) -> float:
        return round(lags[min(len(lags) - 1, int(p * len(lags)))] * 1000, 1) if lags else 0.0

    return {
        "events": len(lags),
        "rate": rate,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    }


def status_of_answer(status: int, body: bytes) -> Request | None:
    """After a 202, GET the status of the analysis it created, at once."""
    if status != 202:
        return None
    analysis_id = json.loads(body)["analysis_id"]
    return ("GET", f"/api/media/status/{analysis_id}", None)


async def read_your_writes(
    base_url: str, media_url: str, rate: float, seconds: float
) -> dict[str, Any]:
    """POST at ``rate``, each answer followed at once by a GET of its status on the
    same connection: the follow-up figures are "POST answered -> GET shows it"
    (any answer but 200 there is a read-your-writes miss)."""
    result = await loadgen.run(
        base_url, post_request(media_url), rate=rate, seconds=seconds, follow_up=status_of_answer
    )
    return result.summary()


async def clip_end_to_end(base_url: str, media_url: str, count: int) -> dict[str, Any]:
    """Submit ``count`` clips at once; time each from submit to completed."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def one() -> float:
            t = time.perf_counter()
            r = await client.post(
                "/api/media/analyze",
                json={"prompt": "e2e", "media_url": media_url, "media_type": "video"},
            )
            aid = r.json()["analysis_id"]
            while time.perf_counter() - t < CLIP_DEADLINE_SECONDS:
                s = (await client.get(f"/api/media/status/{aid}")).json()
                if s["status"] in ("completed", "failed"):
                    if s["status"] != "completed":
                        raise RuntimeError(f"clip analysis {aid} failed: {s}")
                    return time.perf_counter() - t
                await asyncio.sleep(0.05)
            raise RuntimeError(f"clip analysis {aid} not done after {CLIP_DEADLINE_SECONDS}s")

        single = await one()
        started = time.perf_counter()
        many = await asyncio.gather(*(one() for _ in range(count)))
        wall = time.perf_counter() - started
    many.sort()
    return {
        "single_clip_s": round(single, 3),
        "clips": count,
        "wall_s": round(wall, 2),
        "clips_per_s": round(count / wall, 2),
        "p50_s": round(many[len(many) // 2], 2),
        "max_s": round(many[-1], 2),
    }
