"""Webhook delivery lag: from a terminal event produced to the receiver having it.

    make bench-webhooks WEBHOOK_RATE=100 WEBHOOK_SECONDS=30

Runs on the bench stack that scripts/bench.sh starts (BENCH_DRIVER selects this
module) with a notifier of its own. The benchmark stands in for the processors,
which cannot complete a hundred real analyses a second on two cores: at
``WEBHOOK_RATE`` a second it POSTs an analysis with a ``webhook_url`` (the real
command path) and, once the 202 is back, produces that analysis's
AnalysisCompleted to the event log (acks=all). The lag of each is from Kafka's
acknowledgement of that event to the receiver (an HTTP server on 127.0.0.1 in a
process of its own, ``benchmarks.webhook_receiver``) having read the signed
POST: the notifier's consumer and database writes, the projector applying the
event (the body shows the state after it), the notifier's claim, signing and
POST. Every body is verified with the
``standardwebhooks`` library. Writes ``benchmarks/results/webhook_lag.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop
from aiokafka import AIOKafkaProducer

from benchmarks import procstat, scenarios
from events import EVENTS_TOPIC, AnalysisCompleted, encode, new_envelope
from read_model.webhooks import new_secret

OUT = Path(__file__).parent / "results" / "webhook_lag.json"
SECRET = new_secret()


class Arrivals:
    """What the receiver process (``benchmarks.webhook_receiver``) has logged so far."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._read = 0
        self.arrived: dict[str, float] = {}
        self.bad = 0

    def refresh(self) -> None:
        with self._path.open() as f:
            f.seek(self._read)
            chunk = f.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._read += len(complete.encode())
        for line in complete.splitlines():
            if line == "bad":
                self.bad += 1
                continue
            aid, at = line.split()
            self.arrived.setdefault(aid, float(at))

    def has(self, ids: Any) -> bool:
        self.refresh()
        return all(a in self.arrived for a in ids)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0


async def main() -> None:
    rate = float(os.environ.get("WEBHOOK_RATE", "100"))
    seconds = float(os.environ.get("WEBHOOK_SECONDS", "30"))
    stack = scenarios.BenchStack.from_env()
    port = int(os.environ.get("WEBHOOK_RECEIVER_PORT", "0")) or _free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    arrivals_file = stack.state / "webhook-arrivals.txt"
    arrivals_file.write_text("")
    receiver = Arrivals(arrivals_file)
    receiver_log = (stack.state / "logs" / "webhook-receiver.log").open("ab")
    receiving = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.webhook_receiver", str(port), SECRET,
        str(arrivals_file), stdout=receiver_log, stderr=receiver_log,
    )  # fmt: skip

    env = {**os.environ, "WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32"}
    log = (stack.state / "logs" / "notifier.log").open("ab")
    notifier = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "media-analysis"), "notifier",
        stdout=log, stderr=log, env=env,
    )  # fmt: skip
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    produced: dict[str, float] = {}
    errors = 0
    try:
        limits = httpx.Limits(max_connections=512)
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, limits=limits) as client:

            async def one(i: int) -> None:
                nonlocal errors
                body = {
                    "prompt": f"webhook bench {i}",
                    "media_url": stack.missing_url,
                    "media_type": "video",
                    "webhook_url": hook,
                }
                try:
                    response = await client.post("/api/media/analyze", json=body)
                except httpx.HTTPError:
                    errors += 1
                    return
                if response.status_code != 202:
                    errors += 1
                    return
                aid = response.json()["analysis_id"]
                event = AnalysisCompleted(
                    analysis_id=aid, results={}, summary="bench", topics=["bench"]
                )
                record = encode(new_envelope(event, source="/media-analysis/bench"))
                await producer.send_and_wait(
                    EVENTS_TOPIC, record.value, key=record.key, headers=list(record.headers)
                )
                produced[aid] = time.time()

            await one(-1)  # warm-up: the notifier's group joins, its pools open
            await _until(lambda: receiver.has(produced), 90)
            produced.clear()
            receiver.arrived.clear()
            pids = {**procstat.bench_pids(), "notifier": notifier.pid, "receiver": receiving.pid}
            cpu_before = {name: procstat.cpu_seconds(pid) for name, pid in pids.items()}
            machine_before = procstat.machine_sample()
            tasks = []
            start = time.perf_counter()
            for i in range(int(rate * seconds)):
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(one(i)))
            # A POST or produce still hanging long after the load ended counts as an error.
            _, hanging = await asyncio.wait(tasks, timeout=120)
            for task in hanging:
                task.cancel()
            errors += len(hanging)
            await _until(lambda: receiver.has(produced), 300)
            cpu = {n: round(procstat.cpu_seconds(p) - cpu_before[n], 1) for n, p in pids.items()}
            busy = procstat.machine_busy_percent(machine_before, procstat.machine_sample())
            stages = await _stages(stack.dsn, produced)
    finally:
        await producer.stop()
        notifier.terminate()
        await notifier.wait()
        log.close()
        receiving.terminate()
        await receiving.wait()
        receiver_log.close()
    lags = [(receiver.arrived[a] - t) * 1000 for a, t in produced.items() if a in receiver.arrived]
    result = {
        "rate": rate,
        "seconds": seconds,
        "completions": len(produced),
        "delivered": len(lags),
        "post_errors": errors,
        "notifier_concurrency": int(os.environ.get("WEBHOOK_CONCURRENCY", "64")),
        "unverified": receiver.bad,
        "lag_ms": _percentiles(lags),
        "stages_ms": stages,
        "cpu_seconds": cpu,
        "machine_busy_percent": round(busy, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _percentiles(values: list[float]) -> dict[str, float]:
    found = {p: percentile(values, q) for p, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
    return found | {"max": round(max(values), 1) if values else 0.0}


async def _stages(dsn: str, produced: dict[str, float]) -> dict[str, dict[str, float]]:
    """Where the time went, from the notifier's tables: event produced -> delivery
    recorded (the notifier's consumer), recorded -> first attempt started (the
    projection reaching the event, then the delivery loop), and the POST itself."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT d.analysis_id::text AS id, extract(epoch FROM d.created_at) AS recorded, "
            "extract(epoch FROM a.started_at) AS started, a.duration_ms FROM webhook_delivery d "
            "JOIN webhook_attempt a ON a.delivery_id = d.id AND a.attempt = 1 "
            "WHERE d.analysis_id::text = ANY($1)",
            list(produced),
        )
    finally:
        await conn.close()
    return {
        "recorded": _percentiles([(float(r["recorded"]) - produced[r["id"]]) * 1000 for r in rows]),
        "recorded_to_sent": _percentiles(
            [(float(r["started"]) - float(r["recorded"])) * 1000 for r in rows]
        ),
        "post": _percentiles([float(r["duration_ms"]) for r in rows]),
    }


def _free_port() -> int:

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(done: Any, within: float) -> None:
    deadline = time.perf_counter() + within
    while not done():
        if time.perf_counter() > deadline:
            return
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    uvloop.run(main())
