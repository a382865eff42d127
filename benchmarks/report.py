"""Write BENCHMARKS.md from benchmarks/results/latest.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
HEADER = (
    "| {first} | target req/s | achieved req/s | requests | errors | p50 ms | p95 ms | p99 ms "
    "| API CPU ms/req | goal |"
)


def _row(name: str, s: dict[str, Any], target: str) -> str:
    return (
        f"| {name} | {s['target_rate']:g} | {s['achieved_rate']:g} | {s['requests']} | "
        f"{s['non_2xx'] + s['errors']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | "
        f"{s.get('api_cpu_ms_per_request', '')} | {target} |"
    )


def _overload(r: dict[str, Any]) -> str:
    o = r.get("post_overload")
    if o is None:
        return ""
    shed = o["statuses"].get("503", 0)
    return (
        f"Overload (POST at {o['target_rate']:g} req/s for 10 s, far past saturation): "
        f"{o['statuses'].get('202', 0)} accepted, {shed} refused at once with 503 + Retry-After "
        f"(API_MAX_IN_FLIGHT), {o['errors']} connection errors, p50 {o['p50_ms']} ms, "
        f"p99 {o['p99_ms']} ms; the API's peak PSS during it was {o['api_peak_pss_mb']} MiB."
    )


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lag = r["visibility_lag"]
    clips = r["clips"]
    mix = r.get("mix")
    memory = r.get("peak_pss_mb", r.get("peak_rss_mb", {}))
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (scripts/bench.sh → benchmarks/run.py → benchmarks/report.py):",
        "a private stack with production durability (PostgreSQL fsync on, Kafka acks=all,",
        "idempotent producer), the API, projector and processor as separate processes, and an",
        "open-loop load generator (benchmarks/loadgen.py: fixed arrival rate, latency from the",
        "scheduled send time, so queueing is not hidden), all on 127.0.0.1 of one machine.",
        "Latencies are the median of the runs (ranked by p95). Load scenarios submit a URL the",
        "processors fail fast on (HTTP 404), so each request still makes its events and rows",
        "but ffmpeg work does not swamp the cores being measured. Raw figures:",
        "`benchmarks/results/latest.json`.",
        "",
        f"Profile `{r['profile']}`, started {r['started']}. Machine: {m['cpus']} cores, "
        f"{m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, Kafka {m['kafka']}, "
        f"{m['postgres']}, {m['ffmpeg']}.",
        "",
        "## HTTP",
        "",
        HEADER.format(first="scenario"),
        "|---|---|---|---|---|---|---|---|---|---|",
        _row("POST analyze", r["post_1000"]["median_run"], "p95 ≤ 25, p99 ≤ 100"),
        _row(f"POST analyze, {r['post_sustained']['seconds']} s", r["post_sustained"], "0 errors"),
        _row("GET status", r["status_1000"]["median_run"], "p95 ≤ 15"),
        _row("GET history, pages 1-10 (1M rows)", r["history_shallow"]["median_run"], "p95 ≤ 50"),
        _row(
            "GET history, keyset pages to row 800,000", r["history_deep"]["median_run"], "p95 ≤ 50"
        ),
        _row(
            "GET history, filtered, pages to 500", r["history_filtered"]["median_run"], "p95 ≤ 50"
        ),
        "",
        f"Saturation (highest step with p99 ≤ 1 s, no errors, rate reached): "
        f"POST {r['post_saturation']['saturation_rate']:g} req/s (goal 1,000, stretch 2,500); "
        f"GET status {r['status_saturation']['saturation_rate']:g} req/s (goal ≥ 2,500).",
        "",
        _overload(r),
        "",
        "## Combined mix",
        "",
        *(
            [
                HEADER.format(first="part"),
                "|---|---|---|---|---|---|---|---|---|---|",
                _row("POST", mix["post"], ""),
                _row("GET status", mix["status"], ""),
                _row("GET history", mix["history"], ""),
                "",
                f"Machine CPU during the mix: {mix['machine_cpu_percent']} % (goal < 70 %).",
            ]
            if mix
            else ["Not measured in this run: the run stopped before the mix (see NOTES)."]
        ),
        "",
        "## Event log",
        "",
        f"Visibility lag (event produced → projection applied) at {lag['rate']:g} events/s over "
        f"{lag['events']} events: p50 {lag['p50_ms']} ms, p95 {lag['p95_ms']} ms, "
        f"p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms (goal p95 ≤ 100 ms, p99 ≤ 1 s).",
        "",
        f"1,000,000 history rows seeded in {r['history_seed_seconds']} s (synthetic rows, bench "
        "database only, then `projection recount`)."
        + (
            f" The listing's total on them: exact `count(*)` "
            f"{r['history_total_cost']['count_star_ms']} ms, from the count projection "
            f"{r['history_total_cost']['count_projection_ms']} ms (medians of 5)."
            if "history_total_cost" in r
            else ""
        ),
        "",
        (
            f"Migrations on that table (`alembic upgrade head` from 0003: the count "
            f"projection's backfill and the new index over every row): "
            f"{r['migration']['seconds']} s (goal < 30 s)."
            if "migration" in r
            else ""
        ),
        "",
        "## Media",
        "",
        f"A 6-second clip (probe only), alone: {clips['single_clip_s']} s, submit to completed. "
        f"{clips['clips']} clips at once: {clips['clips_per_s']} clips/s, median "
        f"{clips['p50_s']} s, slowest {clips['max_s']} s.",
        "",
        "## Resources over the whole run",
        "",
        "Peak memory is the proportional set size (PSS, shared pages split among the",
        "processes sharing them) sampled every second over the whole run, each process",
        "with its children (PostgreSQL: the postmaster and every backend).",
        "",
        "| process | CPU seconds | peak PSS MiB |",
        "|---|---|---|",
        *[
            f"| {name} | {cpu} | {memory.get(name, '')} |"
            for name, cpu in r.get("cpu_seconds", {}).items()
        ],
        "",
    ]
    notes = ROOT / "benchmarks" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    return "\n".join(lines)


def main() -> None:
    import sys

    source = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS  # e.g. results/partial.json
    (ROOT / "BENCHMARKS.md").write_text(render(json.loads(source.read_text())))
    print("[bench] BENCHMARKS.md written")


if __name__ == "__main__":
    main()
