"""POST latency and visibility lag on one broker and on the three-node cluster.

    make bench-cluster            # MA_KAFKA_BROKERS=1, then 3, one sitting

Runs on the bench stack that scripts/bench.sh starts (BENCH_DRIVER selects this
module; MA_KAFKA_BROKERS picks the Kafka layout, with replication factor 3 and
min.insync.replicas 2 on three nodes). ``CLUSTER_ROUNDS`` rounds (default 3)
of POST at 1,000 req/s for ``CLUSTER_SECONDS`` (default 10) and of the visibility
lag at 1,000 events/s; the median round is the figure. Merges its figures under
the broker count into ``benchmarks/results/cluster.json``, which
benchmarks/report.py turns into BENCHMARKS.md's cluster section.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import uvloop

from benchmarks import procstat, scenarios

OUT = Path(__file__).parent / "results" / "cluster.json"
RATE = 1000


def _median_by(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return sorted(runs, key=lambda r: float(r[key]))[len(runs) // 2]


async def main() -> None:
    rounds = int(os.environ.get("CLUSTER_ROUNDS", "3"))
    seconds = float(os.environ.get("CLUSTER_SECONDS", "10"))
    brokers = int(os.environ.get("MA_KAFKA_BROKERS", "1"))
    stack = scenarios.BenchStack.from_env()
    scenarios.API_PID = procstat.bench_pids()["api"]
    post = scenarios.post_request(stack.missing_url)
    posts: list[dict[str, Any]] = []
    lags: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    for n in range(rounds):
        print(f"[bench] {brokers} broker(s), round {n + 1}: POST at {RATE} req/s", flush=True)
        posts.append(await scenarios.measured(stack.base_url, post, RATE, seconds))
        await scenarios.projector_caught_up(stack.bootstrap, stack.dsn)
        print(f"[bench] {brokers} broker(s), round {n + 1}: visibility lag", flush=True)
        lags.append(await scenarios.visibility_lag(stack.bootstrap, stack.dsn, RATE, seconds))
        await scenarios.projector_caught_up(stack.bootstrap, stack.dsn)
    figures = {
        "brokers": brokers,
        "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "rounds": rounds,
        "seconds": seconds,
        "post": _median_by(posts, "p95_ms"),
        "post_runs": posts,
        "post_p95_ms_median": statistics.median(float(p["p95_ms"]) for p in posts),
        "post_p99_ms_median": statistics.median(float(p["p99_ms"]) for p in posts),
        "lag": _median_by(lags, "p95_ms"),
        "lag_runs": lags,
        "lag_p95_ms_median": statistics.median(float(x["p95_ms"]) for x in lags),
        "lag_p99_ms_median": statistics.median(float(x["p99_ms"]) for x in lags),
        # The machine may be shared: its load average tells how much.
        "load_average_before": round(load_before, 1),
        "load_average_after": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }
    merged = json.loads(OUT.read_text()) if OUT.exists() else {}
    merged[str(brokers)] = figures
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(merged, indent=2) + "\n")
    print(
        f"[bench] {brokers} broker(s): POST p95 {figures['post_p95_ms_median']} ms, "
        f"p99 {figures['post_p99_ms_median']} ms; lag p95 {figures['lag_p95_ms_median']} ms, "
        f"p99 {figures['lag_p99_ms_median']} ms",
        flush=True,
    )


if __name__ == "__main__":
    uvloop.run(main())
