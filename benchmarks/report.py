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


def _row(name: str, s: dict[str, Any] | None, target: str) -> str:
    if s is None or "error" in s:
        why = s["error"] if s else "not measured in this run"
        return f"| {name} | | | | | | | | | {target}: {why} |"
    if "median_run" in s:
        s = s["median_run"]
    return (
        f"| {name} | {s['target_rate']:g} | {s['achieved_rate']:g} | {s['requests']} | "
        f"{s['non_2xx'] + s['errors']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | "
        f"{s.get('api_cpu_ms_per_request', '')} | {target} |"
    )


def _ok(r: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The scenario's figures, or None when it failed or did not run."""
    value = r.get(key)
    return value if isinstance(value, dict) and "error" not in value else None


def _failed(r: dict[str, Any], key: str, what: str) -> str:
    value = r.get(key)
    if isinstance(value, dict) and "error" in value:
        return f"{what}: failed in this run ({value['error']})."
    return f"{what}: not measured in this run."


def _overload(r: dict[str, Any]) -> str:
    o = _ok(r, "post_overload")
    if o is None:
        return _failed(r, "post_overload", "Overload")
    shed = o["statuses"].get("503", 0)
    return (
        f"Overload (POST at {o['target_rate']:g} req/s for 10 s, far past saturation): "
        f"{o['statuses'].get('202', 0)} accepted, {shed} refused at once with 503 + Retry-After "
        f"(API_MAX_IN_FLIGHT), {o['errors']} connection errors, p50 {o['p50_ms']} ms, "
        f"p99 {o['p99_ms']} ms; the API's peak PSS during it was {o['api_peak_pss_mb']} MiB."
    )


def _saturation(r: dict[str, Any]) -> str:
    parts = []
    for key, what, goal in (
        ("post_saturation", "POST", "goal 1,000, stretch 2,500"),
        ("status_saturation", "GET status", "goal ≥ 2,500"),
    ):
        sat = _ok(r, key)
        if sat is None:
            parts.append(_failed(r, key, what).rstrip("."))
            continue
        steps = ", ".join(
            f"{s['target_rate']:g}→{s['achieved_rate']:g} (p99 {s['p99_ms']:g} ms)"
            for s in sat["steps"]
        )
        parts.append(f"{what} {sat['saturation_rate']:g} req/s ({goal}; steps {steps})")
    return (
        "Saturation (highest step with p99 ≤ 1 s, no errors, rate reached; offered→achieved): "
        + "; ".join(parts)
        + "."
    )


def _scaled_out(r: dict[str, Any]) -> str:
    out = _ok(r, "scaled_out")
    if out is None:
        return _failed(r, "scaled_out", "Scale-out (API_WORKERS=2)")
    post, sat = out["post_1000"]["median_run"], out["status_saturation"]
    steps = ", ".join(
        f"{s['target_rate']:g}→{s['achieved_rate']:g} (p99 {s['p99_ms']:g} ms)"
        for s in sat["steps"]
    )
    return (
        f"Scale-out, the same loads against API_WORKERS={out['workers']} (CPU per request of "
        f"both workers together): POST at {post['target_rate']:g} req/s achieved "
        f"{post['achieved_rate']:g}, p50 {post['p50_ms']} ms, p95 {post['p95_ms']} ms, p99 "
        f"{post['p99_ms']} ms, {post.get('api_cpu_ms_per_request', '')} API CPU ms/req; GET "
        f"status saturation {sat['saturation_rate']:g} req/s (steps {steps})."
    )


def _read_your_writes(r: dict[str, Any]) -> str:
    ryw = _ok(r, "read_your_writes")
    if ryw is None:
        return _failed(r, "read_your_writes", "Read-your-writes")
    follow = ryw.get("follow_statuses", {})
    misses = sum(n for code, n in follow.items() if code != "200")
    return (
        f"Read-your-writes (POST at {ryw['target_rate']:g} req/s, each 202 followed at once by "
        f"a GET of its status on the same connection): {ryw['follow_ups']} reads, "
        f"{misses} not 200 (statuses {follow}); POST answered → GET shows it: "
        f"p50 {ryw['follow_p50_ms']} ms, p95 {ryw['follow_p95_ms']} ms, "
        f"p99 {ryw['follow_p99_ms']} ms, max {ryw['follow_max_ms']} ms "
        f"(the POSTs: p50 {ryw['p50_ms']} ms, p95 {ryw['p95_ms']} ms)."
    )


def _lag(r: dict[str, Any]) -> str:
    lag = _ok(r, "visibility_lag")
    if lag is None:
        return _failed(r, "visibility_lag", "Visibility lag")
    return (
        f"Visibility lag (event produced → projection applied) at {lag['rate']:g} events/s over "
        f"{lag['events']} events: p50 {lag['p50_ms']} ms, p95 {lag['p95_ms']} ms, "
        f"p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms (goal p95 ≤ 100 ms, p99 ≤ 1 s)."
    )


def _clips(r: dict[str, Any]) -> str:
    clips = _ok(r, "clips")
    if clips is None:
        return _failed(r, "clips", "Clips")
    return (
        f"A 6-second clip (probe only), alone: {clips['single_clip_s']} s, submit to completed. "
        f"{clips['clips']} clips at once: {clips['clips_per_s']} clips/s, median "
        f"{clips['p50_s']} s, slowest {clips['max_s']} s."
    )


def _mix(r: dict[str, Any]) -> list[str]:
    mix = _ok(r, "mix")
    if mix is None:
        return [_failed(r, "mix", "The combined mix")]
    return [
        HEADER.format(first="part"),
        "|---|---|---|---|---|---|---|---|---|---|",
        _row("POST", mix["post"], ""),
        _row("GET status", mix["status"], ""),
        _row("GET history", mix["history"], ""),
        "",
        f"Machine CPU during the mix: {mix['machine_cpu_percent']} % (goal < 70 %); the "
        f"processor used {mix['processor_cpu_seconds']} CPU s.",
        *(
            [
                "",
                "Cores used during the mix, by process (CPU seconds per second of the mix): "
                + ", ".join(f"{n} {c}" for n, c in mix["cores_used"].items())
                + ".",
            ]
            if "cores_used" in mix
            else []
        ),
        *(
            [
                "",
                "Request to start (the API's AnalysisRequested to the processor's "
                "AnalysisStarted, {analyses} analyses): p50 {p50} ms, p95 {p95} ms, "
                "p99 {p99} ms.".format(**mix["request_to_start_ms"]),
            ]
            if "request_to_start_ms" in mix
            else []
        ),
        *_mix_one_slot(r, mix),
    ]


def _mix_one_slot(r: dict[str, Any], mix: dict[str, Any]) -> list[str]:
    one = _ok(r, "mix_one_slot")
    if one is None:
        return ["", _failed(r, "mix_one_slot", "The mix with one processor slot")]
    started = "{analyses} analyses started, against {default} with the default slots".format(
        analyses=one["request_to_start_ms"]["analyses"],
        default=mix.get("request_to_start_ms", {}).get("analyses", "?"),
    )
    return [
        "",
        f"The same mix with one processor slot (PROCESSOR_CONCURRENCY=1): machine CPU "
        f"{one['machine_cpu_percent']} % (goal < 70 %); {started}; p95 ms POST "
        f"{one['post']['p95_ms']}, status {one['status']['p95_ms']}, history "
        f"{one['history']['p95_ms']}; cores "
        + ", ".join(f"{n} {c}" for n, c in one["cores_used"].items())
        + ".",
    ]


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    memory = r.get("peak_pss_mb", r.get("peak_rss_mb", {}))
    sustained = r.get("post_sustained") or {}
    total_cost = _ok(r, "history_total_cost")
    migration = _ok(r, "migration")
    seeded = r.get("history_seed_seconds")
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (scripts/bench.sh → benchmarks/run.py → benchmarks/report.py):",
        "a private stack with production durability (PostgreSQL fsync on, Kafka acks=all,",
        "idempotent producer), the API, projector and processor as separate processes, and an",
        "open-loop load generator (benchmarks/loadgen/, a small Go program, or",
        "benchmarks/loadgen.py without Go: fixed arrival rate, latency from the scheduled send",
        "time, so queueing is not hidden), all on 127.0.0.1 of one machine.",
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
        _row("POST analyze", r.get("post_1000"), "p95 ≤ 25, p99 ≤ 100"),
        _row(
            f"POST analyze, {sustained.get('seconds', '?')} s", r.get("post_sustained"), "0 errors"
        ),
        _row("GET status", r.get("status_1000"), "p95 ≤ 15"),
        _row("GET history, pages 1-10 (1M rows)", r.get("history_shallow"), "p95 ≤ 50"),
        _row("GET history, keyset pages to row 800,000", r.get("history_deep"), "p95 ≤ 50"),
        _row("GET history, filtered, pages to 500", r.get("history_filtered"), "p95 ≤ 50"),
        "",
        _saturation(r),
        "",
        _overload(r),
        "",
        _scaled_out(r),
        "",
        _read_your_writes(r),
        "",
        "## Combined mix",
        "",
        *_mix(r),
        "",
        "## Event log",
        "",
        _lag(r),
        "",
        (
            f"1,000,000 history rows seeded in {seeded} s (synthetic rows, bench database only, "
            "then `projection recount`)."
            if isinstance(seeded, int | float)
            else _failed(r, "history_seed_seconds", "Seeding the history")
        )
        + (
            f" The listing's total on them: exact `count(*)` {total_cost['count_star_ms']} ms, "
            f"from the count projection {total_cost['count_projection_ms']} ms (medians of 5)."
            if total_cost
            else ""
        ),
        "",
        (
            f"Migrations on that table (`alembic upgrade head` from 0003: the count "
            f"projection's backfill and the new index over every row): "
            f"{migration['seconds']} s (goal < 30 s)."
            if migration
            else _failed(r, "migration", "Migration time")
        ),
        "",
        "## Media",
        "",
        _clips(r),
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
