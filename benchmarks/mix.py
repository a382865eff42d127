"""The combined mix: 500 POST + 500 status + 100 history req/s with a processor
and the projector running, and who used the machine meanwhile.

``benchmarks/run.py`` runs it once as the last scenario of ``make bench``. On its
own, for before/after comparisons of one change on one stack::

    make bench-mix MIX_ROUNDS=3 MIX_SECONDS=10

runs only the mix, ``MIX_ROUNDS`` times, on a fresh bench stack, prints each
round and writes the rounds to ``.state/bench/mix.json`` (not to the repo: a
comparison is two such runs, and only their ratio means something).
``MIX_SCALE=0.5`` offers half of every rate: on a host too slow to hold the
whole mix, an overloaded round measures queues, not what a change saves.
``MIX_PROCESSOR=0`` runs the mix without a processor: what the request path
(API, Kafka, PostgreSQL, projector, instruments) costs on its own, while the
requests queue in the log.
A warm-up round of ``MIX_WARMUP_SECONDS`` (30) runs first and is not counted: a
freshly started Kafka spends its first minute compiling (its JIT), which on
the slower host (kernel v1045) doubled its cores in the first 10 s round.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import uvloop

from benchmarks import loadgen, procstat, scenarios
from benchmarks.loadgen import Request
from benchmarks.processor import Processor, skip_backlog
from events import AnalysisRequested, AnalysisStarted

RATES = {"post": 500, "status": 500, "history": 100}
LAST_SECONDS_LEFT_OUT = 1.0
"""Requests of a round's last second are left out of its start lag: the round's
processor stops at its end, before it has started all of them."""


async def start_lag_ms(dsn: str, since: float, until: float) -> dict[str, float]:
    """Request -> start of the analyses requested between ``since`` and ``until``
    (epoch seconds): the time between the AnalysisRequested the API produced and the
    AnalysisStarted the processor produced, as the audit trail records them. It
    holds the processor's fetch, its wait for the projection and its ledger read."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            """
            SELECT count(*) AS n,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY lag) AS p95,
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99
            FROM (SELECT extract(epoch FROM s.time - r.time) * 1000 AS lag
                  FROM analysis_event r
                  JOIN analysis_event s ON s.analysis_id = r.analysis_id AND s.type = $2
                  WHERE r.type = $1 AND r.time >= to_timestamp($3) AND r.time < to_timestamp($4)
                 ) AS lags
            """,
            AnalysisRequested.TYPE,
            AnalysisStarted.TYPE,
            since,
            until - LAST_SECONDS_LEFT_OUT,
        )
    finally:
        await conn.close()
    assert row is not None
    return {
        "analyses": row["n"],
        **{k: round(float(row[k] or 0), 1) for k in ("p50", "p95", "p99")},
    }


def generator_cpu_seconds() -> float:
    """This process's CPU and the Go generators' (each counted as it ends: the three
    of a round end inside its window)."""
    return procstat.own_cpu_seconds() + loadgen.compiled_cpu_seconds()


async def run_mix(
    base: str,
    bootstrap: str,
    dsn: str,
    pids: dict[str, int],
    processor: Callable[[], Processor] | None,
    post: Callable[[int], Request],
    status: Callable[[int], Request],
    seconds: float,
    scale: float = 1.0,
) -> dict[str, Any]:
    """One mix of ``seconds``: each part's median run, the machine's busy share,
    the cores each process used (the generator is this process, without its
    children, plus the Go generators it ran for the three parts, if any; the
    processor is one of its children) and request->start, read once the projector
    has caught up. ``processor`` None: the mix without one (what the request path
    alone costs)."""
    await skip_backlog(bootstrap)
    running = processor() if processor is not None else contextlib.nullcontext()
    async with running as mixing:
        before = procstat.machine_sample()
        every = pids | ({"processor": mixing.pid} if mixing is not None else {})
        if os.environ.get("BENCH_MEDIA_PID"):  # not a service, but its CPU is the machine's
            every["media server"] = int(os.environ["BENCH_MEDIA_PID"])
        cpu_then, started = {n: procstat.cpu_seconds(p) for n, p in every.items()}, time.time()
        generator_then = generator_cpu_seconds()
        # `measured`, not `runs`: runs sleeps a second after each run, and an idle
        # second inside the window would lower every figure below.
        rates = {part: rate * scale for part, rate in RATES.items()}
        mixed = await asyncio.gather(
            scenarios.measured(base, post, rates["post"], seconds),
            scenarios.measured(base, status, rates["status"], seconds),
            scenarios.measured(
                base, scenarios.history_request(10, False), rates["history"], seconds
            ),
        )
        elapsed, after = time.time() - started, procstat.machine_sample()
        result = {
            "cores_used": {
                **{
                    n: round((procstat.cpu_seconds(p) - cpu_then[n]) / elapsed, 2)
                    for n, p in every.items()
                },
                "load generator": round((generator_cpu_seconds() - generator_then) / elapsed, 2),
            },
            "post": mixed[0],
            "status": mixed[1],
            "history": mixed[2],
            "rates": rates,
            "machine_cpu_percent": procstat.machine_busy_percent(before, after),
            "machine_steal_percent": procstat.machine_steal_percent(before, after),
            "cross_core_wakeups_per_s": procstat.cross_core_wakeups_per_second(before, after),
            "processor_cpu_seconds": round(
                procstat.cpu_seconds(mixing.pid) - cpu_then["processor"], 1
            )
            if mixing is not None
            else 0.0,
        }
    await scenarios.projector_caught_up(bootstrap, dsn)
    result["request_to_start_ms"] = (
        await start_lag_ms(dsn, started, started + elapsed)
        if processor is not None
        else {"analyses": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0}
    )
    return result


async def main() -> None:
    rounds = int(os.environ.get("MIX_ROUNDS", "3"))
    seconds = float(os.environ.get("MIX_SECONDS", "10"))
    scale = float(os.environ.get("MIX_SCALE", "1"))
    warmup = float(os.environ.get("MIX_WARMUP_SECONDS", "30"))
    with_processor = os.environ.get("MIX_PROCESSOR", "1") != "0"
    stack = scenarios.BenchStack.from_env()
    base, dsn, bootstrap, missing = stack.base_url, stack.dsn, stack.bootstrap, stack.missing_url
    pids = procstat.bench_pids()
    state = stack.state
    scenarios.API_PID = pids["api"]

    def processor() -> Processor:
        return Processor(base, missing, state / "logs" / "processor.log")

    ids = await scenarios.create_analyses(base, missing, 1000)
    await scenarios.projector_caught_up(bootstrap, dsn)
    post, status = scenarios.post_request(missing), scenarios.status_request(ids)

    async def mix_round(label: str, length: float) -> dict[str, Any]:
        mixed = await run_mix(
            base,
            bootstrap,
            dsn,
            pids,
            processor if with_processor else None,
            post,
            status,
            length,
            scale,
        )
        lag = mixed["request_to_start_ms"]
        print(
            f"[mix] {label}: machine {mixed['machine_cpu_percent']} %"
            f" (steal {mixed['machine_steal_percent']} %,"
            f" {mixed['cross_core_wakeups_per_s']} IPIs/s), cores "
            + ", ".join(f"{k} {v}" for k, v in mixed["cores_used"].items())
            + f"; p95 ms post {mixed['post']['p95_ms']}, status {mixed['status']['p95_ms']},"
            f" history {mixed['history']['p95_ms']}; request->start ms p50 {lag['p50']},"
            f" p95 {lag['p95']} ({lag['analyses']} analyses)",
            flush=True,
        )
        return mixed

    if warmup > 0:
        await mix_round("warm-up (not counted)", warmup)
    results = [await mix_round(f"round {n}", seconds) for n in range(1, rounds + 1)]
    busy = [r["machine_cpu_percent"] for r in results]
    print(f"[mix] machine busy: median {statistics.median(busy)} %, rounds {busy}", flush=True)
    (state / "mix.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    uvloop.run(main())
