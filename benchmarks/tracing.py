"""What tracing costs the request path: POST and status p95/p99 and the API's CPU
per request with OpenTelemetry off and on, in one sitting.

    make bench-tracing TRACING_ROUNDS=3

Runs on the bench stack that scripts/bench.sh starts (BENCH_DRIVER selects this
module). Tracing off is the bench's own API; tracing on is a second API process
on ``API_PORT + 10`` with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, exporting to
``benchmarks.otlp_sink`` (which keeps nothing), against the same Kafka,
PostgreSQL and projector (no processor: only the requests compete). The two
alternate within each round, so drift of the shared machine falls on both. Only
the APIs differ: a POST's spans and the ``ce_traceparent`` header it writes are
what the request path pays; the consumers' spans are not on it. Writes
``benchmarks/results/tracing.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop

from benchmarks import loadgen, procstat, scenarios
from benchmarks.workers import ApiWorkers

OUT = Path(__file__).parent / "results" / "tracing.json"
RATE = 1000.0
SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def one_run(base_url: str, pid: int, make: Any) -> dict[str, Any]:
    cpu = procstat.cpu_seconds(pid)
    summary: dict[str, Any] = (
        await loadgen.run(base_url, make, rate=RATE, seconds=SECONDS)
    ).summary()
    spent = procstat.cpu_seconds(pid) - cpu
    return {
        "p95_ms": summary["p95_ms"],
        "p99_ms": summary["p99_ms"],
        "errors": int(summary["errors"]) + int(summary["non_2xx"]),
        "api_cpu_ms_per_request": round(1000 * spent / max(1, int(summary["requests"])), 3),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: round(statistics.median(r[key] for r in runs), 3)
        for key in ("p95_ms", "p99_ms", "api_cpu_ms_per_request")
    } | {"errors": sum(r["errors"] for r in runs)}


async def main() -> None:
    rounds = int(os.environ.get("TRACING_ROUNDS", "3"))
    stack = scenarios.BenchStack.from_env()
    api_pid = procstat.bench_pids()["api"]
    logs = Path(os.environ["BENCH_LOGS"])
    sink_port = _free_port()
    sink = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.otlp_sink", str(sink_port)
    )
    traced_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
        "OTEL_SERVICE_NAME": "media-analysis-api",
    }
    port = int(os.environ.get("API_PORT", "8100")) + 10
    try:
        async with ApiWorkers(1, port, logs / "api-traced.log", env=traced_env) as traced:
            print("[bench] tracing: seeding analyses for the status runs", flush=True)
            ids = await scenarios.create_analyses(stack.base_url, stack.missing_url, 400)
            await asyncio.sleep(5)  # let the projector show them
            apis = {"off": (stack.base_url, api_pid), "on": (traced.base_url, traced.pid)}
            runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                mode: {"post": [], "status": []} for mode in apis
            }
            loads = {
                "post": scenarios.post_request(stack.missing_url),
                "status": scenarios.status_request(ids),
            }
            for n in range(rounds):
                order = ("off", "on") if n % 2 == 0 else ("on", "off")
                for mode in order:
                    base_url, pid = apis[mode]
                    for load, make in loads.items():
                        result = await one_run(base_url, pid, make)
                        runs[mode][load].append(result)
                        print(
                            f"[bench] tracing {mode}, {load}, round {n + 1}: {result}", flush=True
                        )
                        await asyncio.sleep(2)
            await asyncio.sleep(6)  # the batch span processor exports every 5 s
            async with httpx.AsyncClient() as client:
                exports = int((await client.get(f"http://127.0.0.1:{sink_port}/")).text)
    finally:
        sink.terminate()
        await sink.wait()
    if exports == 0:
        raise RuntimeError("the traced API exported no spans: tracing was not on")
    result = {
        "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "rate": RATE,
        "seconds": SECONDS,
        "rounds": rounds,
        "span_exports": exports,
        "medians": {
            mode: {load: medians(r) for load, r in per_load.items()}
            for mode, per_load in runs.items()
        },
        "runs": runs,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[bench] tracing: {json.dumps(result['medians'])}", flush=True)


if __name__ == "__main__":
    uvloop.run(main())
