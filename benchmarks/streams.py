"""Live status streams under load: many streams open on one API process.

    make bench-streams STREAMS=1000 STREAM_ANALYSES=100 STREAM_WAVES=20 STREAM_ROUNDS=3

Runs on the bench stack that scripts/bench.sh starts (BENCH_DRIVER selects this
module); no processor runs. It submits ``STREAM_ANALYSES`` analyses (they stay
pending) and measures:

- the API's memory (RSS and PSS) before and with ``STREAMS`` streams open, spread
  evenly over those analyses;
- fan-out lag: ``STREAM_WAVES`` waves, each an AnalysisProgressed event for every
  analysis produced straight to the log; for each change, the time from the
  projector's notice (this driver LISTENs on the same channel as the API, so it
  hears the commit when the API does) to the last of its followers receiving it;
- POST and status latency at 500 requests a second (250 each, open loop) in
  ``STREAM_ROUNDS`` rounds, each without and then with the streams open.

The stream clients are plain asyncio protocols that only find each event's id,
so the instrument costs the shared machine little. Prints a summary and writes
``benchmarks/results/streams.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import uvloop
from aiokafka import AIOKafkaProducer

from benchmarks import loadgen, procstat, scenarios
from events import EVENTS_TOPIC, AnalysisProgressed, encode, new_envelope
from read_model.changes import CHANGES_CHANNEL, read_changes_notice

OUT = Path(__file__).parent / "results" / "streams.json"
Received = dict[tuple[str, str], list[float]]
"""(analysis id, event id) -> when each follower received it."""
LOAD_RATE = 250
"""Requests a second of POST and of status each: 500 together."""


class StreamClient(asyncio.Protocol):
    """One ``GET /api/media/{id}/stream``: records when each event id arrives."""

    def __init__(self, analysis_id: str, received: dict[tuple[str, str], list[float]]) -> None:
        self.analysis_id = analysis_id
        self._received = received
        self._buffer = b""
        self.first = asyncio.get_running_loop().create_future()
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        # Lines end in CRLF (sse-starlette's separator, and the chunked encoding's):
        # an event's id line is found wherever the chunk boundaries fall.
        *lines, self._buffer = (self._buffer + data).split(b"\r\n")
        for line in lines:
            if line.startswith(b"id: "):
                self._received[(self.analysis_id, line[4:].decode())].append(now)
                if not self.first.done():
                    self.first.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.first.done():
            self.first.set_exception(ConnectionError(f"stream closed: {exc}"))


async def open_streams(
    base_url: str, ids: list[str], count: int, received: dict[tuple[str, str], list[float]]
) -> list[StreamClient]:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    clients: list[StreamClient] = []
    for i in range(count):
        aid = ids[i % len(ids)]
        transport, client = await loop.create_connection(
            partial(StreamClient, aid, received), host, port
        )
        transport.write(
            f"GET /api/media/{aid}/stream HTTP/1.1\r\nHost: {host}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        clients.append(client)
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # a steady ramp, not a SYN flood
    await asyncio.wait_for(asyncio.gather(*(c.first for c in clients)), 120)
    return clients


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)


async def fan_out_lag(
    bootstrap: str,
    dsn: str,
    ids: list[str],
    waves: int,
    received: dict[tuple[str, str], list[float]],
) -> dict[str, Any]:
    """Produce ``waves`` progress events per analysis; lag from notice to last follower."""
    heard: dict[tuple[str, str], float] = {}
    followed = set(ids)

    def on_notice(_c: Any, _p: int, _ch: str, payload: str) -> None:
        now = time.perf_counter()
        for change in read_changes_notice(payload) or []:
            aid = str(change.analysis_id)
            if aid in followed:
                heard[(aid, f"{change.partition}-{change.offset}")] = now

    listener = await asyncpg.connect(dsn)
    await listener.add_listener(CHANGES_CHANNEL, on_notice)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for wave in range(1, waves + 1):
            for aid in ids:
                event = AnalysisProgressed(
                    analysis_id=uuid.UUID(aid),
                    stage="bench",
                    stage_status="completed",
                    progress=min(99, wave),
                )
                record = encode(new_envelope(event, source="/bench"))
                await producer.send(
                    EVENTS_TOPIC, record.value, key=record.key, headers=list(record.headers)
                )
            await producer.flush()
            await asyncio.sleep(0.5)
        latest = {aid: 0 for aid in ids}
        for aid, event_id in heard:
            latest[aid] = max(latest[aid], int(event_id.split("-")[1]))
        for _ in range(30):  # the last wave's deliveries, for at most 15 s
            await asyncio.sleep(0.5)
            got: dict[str, int] = defaultdict(int)
            for aid, event_id in received:
                got[aid] = max(got[aid], int(event_id.split("-")[1]))
            if all(got[aid] >= offset for aid, offset in latest.items()):
                break
    finally:
        await producer.stop()
        await listener.close()
    followers = len(received) and max(1, round(sum(map(len, received.values())) / len(received)))
    # A follower is up to date with a change once it holds that state or a later
    # one (a mailbox keeps only the latest): the lag runs to the first such event
    # that reached every follower.
    delivered: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
    for (aid, event_id), times in received.items():
        delivered[aid].append((int(event_id.split("-")[1]), max(times), len(times)))
    lags: list[float] = []
    superseded = missing = 0
    for (aid, event_id), heard_at in heard.items():
        offset = int(event_id.split("-")[1])
        later = sorted(d for d in delivered[aid] if d[0] >= offset and d[2] >= followers)
        if not later:
            missing += 1
            continue
        superseded += later[0][0] > offset
        lags.append(later[0][1] - heard_at)
    return {
        "changes_heard": len(heard),
        "followers_per_analysis": followers,
        "up_to_date_everywhere": len(lags),
        "of_which_by_a_later_state": superseded,
        "never_reached_every_follower": missing,
        "lag_p50_ms": pct(lags, 0.50) if lags else None,
        "lag_p95_ms": pct(lags, 0.95) if lags else None,
        "lag_max_ms": round(max(lags) * 1000, 1) if lags else None,
    }


async def post_and_status(
    base: str, missing: str, ids: list[str], seconds: float, api_pid: int
) -> dict[str, Any]:
    """p95 of each, errors, and the API's CPU per request (steadier than latency
    on a machine shared with other work)."""
    cpu = procstat.cpu_seconds(api_pid)
    post, status = await asyncio.gather(
        loadgen.run(base, scenarios.post_request(missing), rate=LOAD_RATE, seconds=seconds),
        loadgen.run(base, scenarios.status_request(ids), rate=LOAD_RATE, seconds=seconds),
    )
    answered = len(post.latencies) + len(status.latencies)
    return {
        "post_p95_ms": post.summary()["p95_ms"],
        "status_p95_ms": status.summary()["p95_ms"],
        "errors": sum(sum(r.errors.values()) + sum(n for c, n in r.statuses.items() if c >= 400)
                      for r in (post, status)),
        "api_cpu_ms_per_request": round(
            1000 * (procstat.cpu_seconds(api_pid) - cpu) / max(1, answered), 3
        ),
    }  # fmt: skip


async def main() -> None:
    streams = int(os.environ.get("STREAMS", "1000"))
    analyses = int(os.environ.get("STREAM_ANALYSES", "100"))
    waves = int(os.environ.get("STREAM_WAVES", "20"))
    rounds = int(os.environ.get("STREAM_ROUNDS", "3"))
    seconds = float(os.environ.get("STREAM_LOAD_SECONDS", "10"))
    stack = scenarios.BenchStack.from_env()
    api_pid = procstat.bench_pids()["api"]

    ids = await scenarios.create_analyses(stack.base_url, stack.missing_url, analyses)
    await scenarios.projector_caught_up(stack.bootstrap, stack.dsn)
    memory: dict[str, Any] = {
        "idle_rss_mb": rss_mb(api_pid),
        "idle_pss_mb": procstat.pss_mb(api_pid),
    }

    received: dict[tuple[str, str], list[float]] = defaultdict(list)
    opened = time.perf_counter()
    clients = await open_streams(stack.base_url, ids, streams, received)
    memory["open_seconds"] = round(time.perf_counter() - opened, 2)
    await asyncio.sleep(2)
    memory.update(streams_rss_mb=rss_mb(api_pid), streams_pss_mb=procstat.pss_mb(api_pid))
    print(f"[streams] {streams} open over {len(ids)} analyses: {memory}", flush=True)

    cpu = procstat.cpu_seconds(api_pid)
    lag = await fan_out_lag(stack.bootstrap, stack.dsn, ids, waves, received)
    sent = waves * streams
    lag["api_cpu_ms_per_event_sent"] = round(1000 * (procstat.cpu_seconds(api_pid) - cpu) / sent, 3)
    memory.update(after_waves_rss_mb=rss_mb(api_pid), after_waves_pss_mb=procstat.pss_mb(api_pid))
    print(f"[streams] fan-out: {lag}", flush=True)

    # Alternate without and with: close the streams, measure, reopen, measure.
    load: list[dict[str, Any]] = []
    for n in range(1, rounds + 1):
        for client in clients:
            assert client.transport is not None
            client.transport.close()
        await asyncio.sleep(2)
        without = await post_and_status(stack.base_url, stack.missing_url, ids, seconds, api_pid)
        clients = await open_streams(stack.base_url, ids, streams, defaultdict(list))
        await asyncio.sleep(2)
        with_streams = await post_and_status(
            stack.base_url, stack.missing_url, ids, seconds, api_pid
        )
        load.append({"without": without, "with": with_streams})
        print(f"[streams] round {n}: {load[-1]}", flush=True)
    for client in clients:
        assert client.transport is not None
        client.transport.close()

    def median(side: str, kind: str) -> float:
        return statistics.median(float(r[side][kind]) for r in load)

    kinds = ("post_p95_ms", "status_p95_ms", "api_cpu_ms_per_request")
    summary = {
        "streams": streams,
        "analyses": len(ids),
        "machine": {"kernel": platform.release(), "cpus": os.cpu_count()},
        "memory": memory,
        "fan_out": lag,
        "load_rounds": load,
        "medians": {side: {k: median(side, k) for k in kinds} for side in ("without", "with")},
    }
    print(f"[streams] medians: {summary['medians']}", flush=True)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    uvloop.run(main())
