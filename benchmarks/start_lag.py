"""How long an analysis waits before it starts, at a rate the processor keeps up with.

    make bench-start START_RATE=20 START_SECONDS=20 START_ROUNDS=3

Runs on the bench stack that scripts/bench.sh starts (BENCH_DRIVER selects this
module). A processor of its own takes the analyses; each round POSTs analyses
of a missing media file (each fails at its fetch, so nothing but the start is
measured) at ``START_RATE`` for ``START_SECONDS``, waits until the processor has
ended them all, and reads the time from each AnalysisRequested (produced by the
API) to its AnalysisStarted (produced by the processor) from the audit trail.
That time holds the processor's fetch, the end offset it asks Kafka for, its
wait for the projection to catch up with the request's partition (the projector's
fetch wait and batch included) and its ledger read.

In the combined mix the processor cannot keep up (500 analyses a second offered
to four slots), so its request-to-start figure there is mostly queueing; this one
is not. Prints each round and writes ``benchmarks/results/start_lag.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import uvloop

from benchmarks import scenarios
from benchmarks.loadgen import run as load
from benchmarks.mix import start_lag_ms
from benchmarks.processor import Processor, skip_backlog
from events import AnalysisFailed

OUT = Path(__file__).parent / "results" / "start_lag.json"
ENDED_WITHIN_SECONDS = 60


async def main() -> None:
    rate = float(os.environ.get("START_RATE", "20"))
    seconds = float(os.environ.get("START_SECONDS", "20"))
    rounds = int(os.environ.get("START_ROUNDS", "3"))
    stack = scenarios.BenchStack.from_env()
    base, dsn, bootstrap, missing = stack.base_url, stack.dsn, stack.bootstrap, stack.missing_url
    post = scenarios.post_request(missing)

    results: list[dict[str, Any]] = []
    await skip_backlog(bootstrap)
    async with Processor(base, missing, stack.state / "logs" / "processor.log"):
        for n in range(1, rounds + 1):
            since = time.time()
            sent = (await load(base, post, rate=rate, seconds=seconds)).summary()
            until = time.time()
            accepted = sent["ok"]
            assert isinstance(accepted, int)
            for _ in range(ENDED_WITHIN_SECONDS * 2):  # every half second, bounded
                if await scenarios.events_between(dsn, AnalysisFailed.TYPE, since) >= accepted:
                    break
                await asyncio.sleep(0.5)
            await scenarios.projector_caught_up(bootstrap, dsn)
            lag = await start_lag_ms(dsn, since, until)
            results.append({"posted": sent["ok"], "errors": sent["errors"], **lag})
            print(
                f"[start] round {n}: {sent['ok']} posted, {lag['analyses']} started;"
                f" request->start ms p50 {lag['p50']}, p95 {lag['p95']}, p99 {lag['p99']}",
                flush=True,
            )
    summary = {
        "rate": rate,
        "seconds": seconds,
        "machine": {"kernel": platform.release(), "cpus": os.cpu_count()},
        "rounds": results,
        "median_p50_ms": statistics.median(r["p50"] for r in results),
        "median_p95_ms": statistics.median(r["p95"] for r in results),
    }
    print(
        f"[start] median of rounds: p50 {summary['median_p50_ms']} ms,"
        f" p95 {summary['median_p95_ms']} ms",
        flush=True,
    )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    uvloop.run(main())
