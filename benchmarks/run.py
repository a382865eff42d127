"""Run the benchmark scenarios against a running bench stack and write the results.

    python -m benchmarks.run            (scripts/bench.sh starts the stack and calls this)

Environment: BASE_URL, DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, MEDIA_URL, BENCH_PIDS
(name=pid,...), BENCH_PROFILE (quick | full). Writes benchmarks/results/latest.json;
benchmarks/report.py turns it into BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

from benchmarks import migration_time, mix, procstat, scenarios
from benchmarks.processor import Processor
from benchmarks.workers import ApiWorkers

OUT = Path(__file__).resolve().parent / "results"
ONE_SLOT = 1
"""The mix is run twice: with the processor's default slots, and with one. It
offers 500 analyses a second, more than any number of slots starts on these two
cores, so the processor always has work and its share of the machine is set by
its slots (PROCESSOR_CONCURRENCY), not by the load; the second run shows the
request path's headroom beside a processor that takes the backlog one at a time."""

PROFILES: dict[str, dict[str, Any]] = {
    # seconds per run, runs per scenario, rows for history, saturation steps
    "quick": {
        "seconds": 10,
        "repeat": 3,
        "history_rows": 1_000_000,
        "post_sustain": 30,
        "ryw_rate": 250,
    },
    "full": {
        "seconds": 60,
        "repeat": 3,
        "history_rows": 1_000_000,
        "post_sustain": 600,
        "ryw_rate": 250,
    },
}


def _versions() -> dict[str, str]:
    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except OSError:
            return "n/a"

    return {
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "cpus": str(os.cpu_count()),
        "memory_gib": str(
            round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        ),
        "postgres": out(["psql", "--version"]),
        "ffmpeg": out(["ffmpeg", "-version"]).splitlines()[0]
        if out(["ffmpeg", "-version"])
        else "n/a",
        "kafka": os.environ.get("KAFKA_VERSION", "4.1.1"),
    }


async def main() -> None:
    profile = dict(PROFILES[os.environ.get("BENCH_PROFILE", "quick")])
    # BENCH_POST_SUSTAIN=600: the quick profile with the 10-minute POST soak.
    profile["post_sustain"] = int(os.environ.get("BENCH_POST_SUSTAIN", profile["post_sustain"]))
    stack = scenarios.BenchStack.from_env()
    base, dsn, bootstrap, media = stack.base_url, stack.dsn, stack.bootstrap, stack.media_url
    # Only the clip scenario and the mix run a processor (benchmarks/processor.py); the
    # mix submits a URL it fails fast on (HTTP 404), so each request still makes its
    # events and rows while ffmpeg work does not swamp the cores being measured.
    missing = stack.missing_url
    pids = procstat.bench_pids()
    secs, repeat = profile["seconds"], profile["repeat"]
    ryw_rate = profile["ryw_rate"]
    scenarios.API_PID = pids["api"]
    results: dict[str, Any] = {
        "profile": os.environ.get("BENCH_PROFILE", "quick"),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": _versions(),
    }
    cpu_before = {n: procstat.cpu_seconds(p) for n, p in pids.items()}
    memory = procstat.PeakMemory(pids)
    memory.start()

    OUT.mkdir(exist_ok=True)

    def save() -> None:
        (OUT / "partial.json").write_text(json.dumps(results, indent=2, default=str) + "\n")

    async def step(name: str, key: str, scenario: Callable[[], Awaitable[Any]]) -> Any:
        """Run one scenario; a failure is recorded under ``key`` and the run goes on,
        so one broken scenario cannot cost the figures of all the others."""
        print(f"[bench] {name}", flush=True)
        try:
            results[key] = await scenario()
        except Exception as exc:  # recorded in the results and the report, never hidden
            print(f"[bench] {name} failed: {exc!r}", flush=True)
            results[key] = {"error": f"{type(exc).__name__}: {exc}"}
        save()
        return results[key]

    def processor(slots: int | None = None) -> Processor:
        return Processor(base, missing, Path(os.environ["BENCH_LOGS"]) / "processor.log", slots)

    async def clips() -> dict[str, Any]:
        async with processor():
            return await scenarios.clip_end_to_end(base, media, 20)

    post = scenarios.post_request(missing)
    caught_up: dict[str, float] = {}
    results["projector_catch_up_seconds"] = caught_up

    async def settle(after: str) -> None:
        caught_up[after] = await scenarios.projector_caught_up(bootstrap, dsn)

    await step("clips end to end", "clips", clips)
    await step(
        "POST /api/media/analyze at 1,000 req/s",
        "post_1000",
        lambda: scenarios.runs(base, post, 1000, secs, repeat),
    )
    await settle("post")
    await step(
        "POST saturation",
        "post_saturation",
        lambda: scenarios.saturation(base, post, [250, 500, 750, 1000, 1500, 2000, 2500], 10),
    )
    await settle("saturation")

    async def sustained() -> dict[str, Any]:
        run = await scenarios.runs(base, post, 1000, profile["post_sustain"], 1)
        return dict(run["median_run"]) | {"seconds": profile["post_sustain"]}

    await step("POST sustained", "post_sustained", sustained)
    await settle("sustained")

    async def overload() -> dict[str, Any]:
        watch = procstat.PeakMemory({"api": pids["api"]}, interval=0.25)
        watch.start()
        # Enough connections that the server, not the generator's pool, is what queues.
        run = await scenarios.runs(base, post, 4000, 10, 1, connections=2048)
        return dict(run["median_run"]) | {"api_peak_pss_mb": (await watch.stop())["api"]}

    await step("POST overload: 4,000 req/s for 10 s", "post_overload", overload)
    await settle("overload")
    await step(
        "read-your-writes: POST, then GET its status at once",
        "read_your_writes",
        lambda: scenarios.read_your_writes(base, missing, ryw_rate, secs),
    )
    await settle("read_your_writes")
    created = await step(
        "create 1,000 analyses for the status reads",
        "status_ids",
        lambda: scenarios.create_analyses(base, missing, 1000),
    )
    ids: list[str] = created if isinstance(created, list) else []
    # Without ids the status scenarios fail on their own (recorded), the rest runs.
    status = scenarios.status_request(ids or ["00000000-0000-0000-0000-000000000000"])
    await step(
        "GET status", "status_1000", lambda: scenarios.runs(base, status, 1000, secs, repeat)
    )
    await step(
        "GET status saturation",
        "status_saturation",
        lambda: scenarios.saturation(base, status, [500, 750, 1000, 1500, 2000, 2500, 3000], 10),
    )

    async def scaled_out() -> dict[str, Any]:
        # The same POST and status loads against API_WORKERS=2 on a port of its own;
        # the API CPU per request is then that of both workers together.
        port = int(base.rsplit(":", 1)[1]) + 10
        log = Path(os.environ["BENCH_LOGS"]) / "api-workers.log"
        async with ApiWorkers(2, port, log) as api:
            scenarios.API_PID = api.pid
            try:
                posted = await scenarios.runs(api.base_url, post, 1000, secs, repeat)
                await settle("scaled_out")
                status_steps: list[float] = [500, 750, 1000, 1500, 2000, 2500]
                saturated = await scenarios.saturation(
                    api.base_url, scenarios.status_request(ids), status_steps, 10
                )
            finally:
                scenarios.API_PID = pids["api"]
        return {"workers": 2, "post_1000": posted, "status_saturation": saturated}

    await step("scale-out: the API with 2 workers", "scaled_out", scaled_out)
    await step(
        f"seed history with {profile['history_rows']:,} rows",
        "history_seed_seconds",
        lambda: scenarios.seed_history(dsn, profile["history_rows"]),
    )
    await step(
        "totals on the seeded table", "history_total_cost", lambda: scenarios.total_costs(dsn)
    )
    await step(
        "migrations from 0003 to head on the seeded table",
        "migration",
        lambda: asyncio.to_thread(migration_time.time_upgrade, os.environ["DATABASE_URL"]),
    )
    cursors = await scenarios.deep_cursors(dsn)
    for name, make in (
        ("history_shallow", scenarios.history_request(10, False)),
        # Deep pages the way the API offers them: keyset cursors (`next_cursor`), at
        # depths down to the last of the 800,000 listed rows. OFFSET paging that deep
        # costs ~1 s per request in PostgreSQL alone (see NOTES).
        ("history_deep", scenarios.history_cursor_request(cursors)),
        ("history_filtered", scenarios.history_request(500, True)),
    ):
        await step(name, name, functools.partial(scenarios.runs, base, make, 200, secs, repeat))

    await step(
        "visibility lag at 1,000 events/s",
        "visibility_lag",
        lambda: scenarios.visibility_lag(bootstrap, dsn, 1000, secs),
    )

    async def mixed() -> dict[str, Any]:
        return await mix.run_mix(base, bootstrap, dsn, pids, processor, post, status, secs)

    await step("combined mix: 500 POST + 500 status + 100 history req/s", "mix", mixed)

    async def mixed_one_slot() -> dict[str, Any]:
        one_slot = functools.partial(processor, ONE_SLOT)
        return await mix.run_mix(base, bootstrap, dsn, pids, one_slot, post, status, secs)

    await step("the same mix, one processor slot", "mix_one_slot", mixed_one_slot)

    if isinstance(results.get("status_ids"), list):
        del results["status_ids"]  # a thousand ids: not a figure
    results["cpu_seconds"] = {
        n: round(procstat.cpu_seconds(p) - cpu_before[n], 1) for n, p in pids.items()
    }
    results["peak_rss_mb"] = {n: procstat.peak_rss_mb(p) for n, p in pids.items()}
    results["peak_pss_mb"] = await memory.stop()
    results["cpu_seconds"]["processor"] = round(Processor.cpu_seconds, 1)
    results["peak_pss_mb"]["processor"] = Processor.peak_pss_mb
    OUT.mkdir(exist_ok=True)
    (OUT / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"[bench] results in {OUT / 'latest.json'}", flush=True)


if __name__ == "__main__":
    uvloop.run(main())  # the services run on uvloop; the generator must not be the bottleneck
