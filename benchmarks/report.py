"""Write BENCHMARKS.md: the latest results against the goals, then the detail.

Reads benchmarks/results/latest.json (``make bench``),
benchmarks/projector_backlog.json (``benchmarks/projector_backlog.py``, run on
its own) and benchmarks/results/long_media.json (``make bench-long``). Every
figure in the page comes from those files; how to run the
benchmarks and read the figures is in docs/benchmarks.md. One module because it
renders one page, section by section, from one results file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
BACKLOG = ROOT / "benchmarks" / "projector_backlog.json"
CLUSTER = ROOT / "benchmarks" / "results" / "cluster.json"
LONG_MEDIA = ROOT / "benchmarks" / "results" / "long_media.json"
STREAMS = ROOT / "benchmarks" / "results" / "streams.json"
WEBHOOKS = ROOT / "benchmarks" / "results" / "webhook_lag.json"
TRACING = ROOT / "benchmarks" / "results" / "tracing.json"
HEADER = (
    "| {first} | target req/s | achieved req/s | requests | errors | p50 ms | p95 ms | p99 ms "
    "| API CPU ms/req |"
)
RULE = "|---|---|---|---|---|---|---|---|---|"

INTRO = """\
# Benchmarks

The latest figures of `make bench` against the service's performance goals. The
bench starts a private stack with production durability (PostgreSQL fsync on,
Kafka acks=all, idempotent producer), runs the API, projector and processor as
separate processes and drives them with an open-loop load generator (fixed arrival
rate, latency from the scheduled send time), everything on 127.0.0.1 of one
machine. Latencies are the median of three runs. Load scenarios submit a URL the
processor fails fast on (HTTP 404), so each request still makes its events and
rows while ffmpeg work does not swamp the cores being measured.

How to run the benchmarks, what each scenario does and how to read the figures:
[docs/benchmarks.md](docs/benchmarks.md). What was measured on the way to these
figures and what it decided: [docs/performance-notes.md](docs/performance-notes.md).
Raw figures: `benchmarks/results/latest.json` and `benchmarks/projector_backlog.json`.
"""


def _ok(r: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The scenario's figures (its median run, if it has several), or None when
    it failed or did not run."""
    value = r.get(key)
    if not isinstance(value, dict) or "error" in value:
        return None
    median = value.get("median_run")
    return median if isinstance(median, dict) else value


def _missing(r: dict[str, Any], key: str) -> str:
    value = r.get(key)
    if isinstance(value, dict) and "error" in value:
        return f"failed in this run ({value['error']})"
    return "not measured in this run"


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def _errors(s: dict[str, Any]) -> int:
    return int(s["non_2xx"]) + int(s["errors"])


def _top_step(sat: dict[str, Any]) -> float:
    """The offered rate of the highest step the saturation run passed."""
    passed = [s for s in sat["steps"] if float(s["achieved_rate"]) == sat["saturation_rate"]]
    return float(passed[-1]["target_rate"]) if passed else 0.0


def _goal_rows(r: dict[str, Any], backlog: dict[str, Any] | None) -> list[str]:
    rows: list[tuple[str, str, str]] = []

    def latency(name: str, key: str, p95: float, p99: float | None = None) -> None:
        s = _ok(r, key)
        if s is None:
            rows.append((name, _missing(r, key), "—"))
            return
        met = float(s["p95_ms"]) <= p95 and _errors(s) == 0
        if p99 is not None:
            met = met and float(s["p99_ms"]) <= p99
        rows.append(
            (
                name,
                f"p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms, {_errors(s)} errors",
                _yes(met),
            )
        )

    def saturation(name: str, key: str, goal: float, stretch: float | None) -> None:
        sat = _ok(r, key)
        if sat is None:
            rows.append((name, _missing(r, key), "—"))
            return
        top = _top_step(sat)
        verdict = _yes(top >= goal)
        if stretch is not None:
            verdict += f"; stretch {_yes(top >= stretch)}"
        rows.append((name, f"{sat['saturation_rate']:g} req/s (step {top:g} passed)", verdict))

    latency("POST at 1,000 req/s: p95 ≤ 25 ms, p99 ≤ 100 ms", "post_1000", 25, 100)
    soak = _ok(r, "post_sustained")
    if soak is None:
        rows.append(
            ("POST at 1,000 req/s for 10 minutes, 0 errors", _missing(r, "post_sustained"), "—")
        )
    else:
        long_enough = int(soak.get("seconds", 0)) >= 600
        rows.append(
            (
                "POST at 1,000 req/s for 10 minutes, 0 errors",
                f"{soak.get('seconds', '?')} s, {soak['requests']} requests, {_errors(soak)} "
                f"errors, p95 {soak['p95_ms']} ms, p99 {soak['p99_ms']} ms",
                _yes(_errors(soak) == 0) if long_enough else "not shown: run shorter than 10 min",
            )
        )
    saturation("POST saturation ≥ 1,000 req/s (stretch 2,500)", "post_saturation", 1000, 2500)
    latency("GET status at 1,000 req/s: p95 ≤ 15 ms", "status_1000", 15)
    saturation("GET status saturation ≥ 2,500 req/s", "status_saturation", 2500, None)
    for key, what in (
        ("history_shallow", "pages 1-10"),
        ("history_deep", "keyset pages to row 800,000"),
        ("history_filtered", "filtered, pages to 500"),
    ):
        latency(f"GET history on 1M rows at 200 req/s, {what}: p95 ≤ 50 ms", key, 50)
    lag = _ok(r, "visibility_lag")
    rows.append(
        (
            "visibility lag at 1,000 events/s: p95 ≤ 100 ms, p99 ≤ 1 s",
            f"p95 {lag['p95_ms']} ms, p99 {lag['p99_ms']} ms"
            if lag
            else _missing(r, "visibility_lag"),
            _yes(float(lag["p95_ms"]) <= 100 and float(lag["p99_ms"]) <= 1000) if lag else "—",
        )
    )
    ryw = _ok(r, "read_your_writes")
    if ryw is None:
        rows.append(
            (
                "read-your-writes: every GET after a 202 answers 200",
                _missing(r, "read_your_writes"),
                "—",
            )
        )
    else:
        misses = sum(n for code, n in ryw.get("follow_statuses", {}).items() if code != "200")
        rows.append(
            (
                "read-your-writes: every GET after a 202 answers 200",
                f"{ryw['follow_ups']} reads, {misses} not 200; POST p95 {ryw['p95_ms']} ms",
                _yes(misses == 0),
            )
        )
    if backlog is None:
        rows.append(("projector on a backlog ≥ 10,000 events/s", "not measured", "—"))
        rows.append(("rebuild of 1M events ≤ 60 s (stretch 30 s)", "not measured", "—"))
    else:
        rate, rebuild = backlog["events_per_second_steady"], backlog["rebuild_seconds"]
        rows.append(
            (
                "projector on a backlog ≥ 10,000 events/s",
                f"{rate:,} events/s on {backlog['backlog_events']:,} events",
                _yes(rate >= 10_000),
            )
        )
        rows.append(
            (
                f"rebuild of {backlog['backlog_events']:,} events ≤ 60 s (stretch 30 s)",
                f"{rebuild} s",
                f"{_yes(rebuild <= 60)}; stretch {_yes(rebuild <= 30)}",
            )
        )
    for key, what in (("mix", "default slots"), ("mix_one_slot", "one processor slot")):
        mix = _ok(r, key)
        rows.append(
            (
                f"mix 500 POST + 500 status + 100 history req/s below 70 % CPU ({what})",
                f"{mix['machine_cpu_percent']} %" if mix else _missing(r, key),
                _yes(float(mix["machine_cpu_percent"]) < 70) if mix else "—",
            )
        )
    migration = _ok(r, "migration")
    rows.append(
        (
            "migrations on 1M rows < 30 s",
            f"{migration['seconds']} s" if migration else _missing(r, "migration"),
            _yes(float(migration["seconds"]) < 30) if migration else "—",
        )
    )
    return ["| goal | measured | met |", "|---|---|---|"] + [
        f"| {a} | {b} | {c} |" for a, b, c in rows
    ]


def _bounds(r: dict[str, Any], backlog: dict[str, Any] | None) -> list[str]:
    """What bounds each goal this run missed, from the run's own figures."""
    lines: list[str] = []
    mix, one = _ok(r, "mix"), _ok(r, "mix_one_slot")
    if mix is not None and float(mix["machine_cpu_percent"]) >= 70 and "cores_used" in mix:
        cores = mix["cores_used"]
        path = sum(float(cores.get(n, 0)) for n in ("api", "kafka", "postgres", "projector"))
        one_slot = f", {one['machine_cpu_percent']} % with one slot" if one else ""
        started = mix.get("request_to_start_ms", {}).get("analyses", "?")
        lines.append(
            f"- The mix: it offers more analyses than the processor starts ({started} started of "
            f"{mix['post']['requests']} offered), so the processor always has work and its "
            f"share of the machine follows its slots (`PROCESSOR_CONCURRENCY`), not the load: "
            f"{mix['machine_cpu_percent']} % with the default slots{one_slot}. The request path "
            f"alone (API, Kafka, PostgreSQL, projector) used {path:.2f} of "
            f"{r['machine']['cpus']} cores, the processor {cores.get('processor', '?')}."
        )
    if backlog is not None and float(backlog["rebuild_seconds"]) > 30:
        lines.append(
            f"- The rebuild's 30 s stretch needs about {backlog['backlog_events'] / 30:,.0f} "
            f"events/s; it reached {backlog['rebuild_events_per_second']:,} with both cores busy "
            f"({backlog['rebuild_machine_busy_percent']} %): "
            f"{backlog['rebuild_cpu_us_per_event']} µs of replay CPU and "
            f"{backlog['rebuild_postgres_cpu_us_per_event']} µs of PostgreSQL CPU per event."
        )
    return ["What bounds the goals this run missed:", "", *lines, ""] if lines else []


def _row(name: str, r: dict[str, Any], key: str) -> str:
    s = _ok(r, key)
    if s is None:
        return f"| {name} | {_missing(r, key)} | | | | | | | |"
    return (
        f"| {name} | {s['target_rate']:g} | {s['achieved_rate']:g} | {s['requests']} | "
        f"{_errors(s)} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | "
        f"{s.get('api_cpu_ms_per_request', '')} |"
    )


def _steps(sat: dict[str, Any]) -> str:
    return ", ".join(
        f"{s['target_rate']:g}→{s['achieved_rate']:g} (p99 {s['p99_ms']:g} ms)"
        for s in sat["steps"]
    )


def _http(r: dict[str, Any]) -> list[str]:
    lines = [
        HEADER.format(first="scenario"),
        RULE,
        _row("POST analyze", r, "post_1000"),
        _row(
            f"POST analyze, {(r.get('post_sustained') or {}).get('seconds', '?')} s",
            r,
            "post_sustained",
        ),
        _row("GET status", r, "status_1000"),
        _row("GET history, pages 1-10 (1M rows)", r, "history_shallow"),
        _row("GET history, keyset pages to row 800,000", r, "history_deep"),
        _row("GET history, filtered, pages to 500", r, "history_filtered"),
        "",
    ]
    for key, what in (("post_saturation", "POST"), ("status_saturation", "GET status")):
        sat = _ok(r, key)
        detail = (
            f"{sat['saturation_rate']:g} req/s; steps {_steps(sat)}" if sat else _missing(r, key)
        )
        lines += [f"Saturation of {what} (offered→achieved): {detail}.", ""]
    o = _ok(r, "post_overload")
    if o is not None:
        lines += [
            f"Overload (POST at {o['target_rate']:g} req/s for 10 s): "
            f"{o['statuses'].get('202', 0)} accepted, {o['statuses'].get('503', 0)} refused "
            "at once with 503 + Retry-After, "
            f"{o['errors']} connection errors, p50 {o['p50_ms']} ms, p99 {o['p99_ms']} ms; the "
            f"API's peak PSS {o['api_peak_pss_mb']} MiB.",
            "",
        ]
    out = _ok(r, "scaled_out")
    if out is not None:
        post, sat = out["post_1000"]["median_run"], out["status_saturation"]
        lines += [
            f"`API_WORKERS={out['workers']}`: POST at {post['target_rate']:g} req/s p95 "
            f"{post['p95_ms']} ms, p99 {post['p99_ms']} ms, "
            f"{post.get('api_cpu_ms_per_request', '')} API CPU ms/req (both workers); "
            f"GET status saturation {sat['saturation_rate']:g} req/s.",
            "",
        ]
    ryw = _ok(r, "read_your_writes")
    if ryw is not None:
        lines += [
            f"Read-your-writes (POST at {ryw['target_rate']:g} req/s, each 202 followed at once by "
            f"a GET of its status): statuses {ryw.get('follow_statuses', {})}; POST answered → GET "
            f"shows it p50 {ryw['follow_p50_ms']} ms, p95 {ryw['follow_p95_ms']} ms, "
            f"p99 {ryw['follow_p99_ms']} ms.",
            "",
        ]
    return lines


def _mix(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, title in (
        ("mix", "default processor slots"),
        ("mix_one_slot", "PROCESSOR_CONCURRENCY=1"),
    ):
        mix = _ok(r, key)
        if mix is None:
            lines += [f"The mix with {title}: {_missing(r, key)}.", ""]
            continue
        lines += [
            f"With {title}: machine CPU {mix['machine_cpu_percent']} % (goal < 70 %).",
            "",
            HEADER.format(first="part"),
            RULE,
            _row("POST", mix, "post"),
            _row("GET status", mix, "status"),
            _row("GET history", mix, "history"),
            "",
        ]
        if "cores_used" in mix:
            cores = ", ".join(f"{n} {c}" for n, c in mix["cores_used"].items())
            lines += [f"Cores used, by process: {cores}.", ""]
        start = mix.get("request_to_start_ms")
        if start:
            lines += [
                f"Analyses started: {start['analyses']}; AnalysisRequested → AnalysisStarted p50 "
                f"{start['p50']} ms, p95 {start['p95']} ms (a queue: the mix offers more analyses "
                "than the processor starts).",
                "",
            ]
    return lines


def _event_log(r: dict[str, Any], backlog: dict[str, Any] | None) -> list[str]:
    lag = _ok(r, "visibility_lag")
    lines = [
        (
            f"Visibility lag (event produced → row applied) at {lag['rate']:g} events/s over "
            f"{lag['events']} events: p50 {lag['p50_ms']} ms, p95 {lag['p95_ms']} ms, "
            f"p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms."
            if lag
            else f"Visibility lag: {_missing(r, 'visibility_lag')}."
        ),
        "",
    ]
    total = _ok(r, "history_total_cost")
    if total is not None:
        lines += [
            f"History total on 1M rows: exact `count(*)` {total['count_star_ms']} ms, from the "
            f"count projection {total['count_projection_ms']} ms.",
            "",
        ]
    migration = _ok(r, "migration")
    if migration is not None:
        lines += [
            f"Migrations on 1M rows (`alembic upgrade head` from {migration.get('from', '?')}): "
            f"{migration['seconds']} s.",
            "",
        ]
    if backlog is not None:
        lines += [
            "| projector | events/s | seconds | its CPU µs/event | PostgreSQL CPU µs/event "
            "| machine busy |",
            "|---|---|---|---|---|---|",
            f"| one projector on the backlog | {backlog['events_per_second_steady']:,} | "
            f"{backlog['seconds_including_start_up']} (with start-up) | "
            f"{backlog['projector_cpu_us_per_event']} | {backlog['postgres_cpu_us_per_event']} | "
            f"{backlog['machine_busy_percent']} % |",
            f"| `projection rebuild` (two writers) | {backlog['rebuild_events_per_second']:,} | "
            f"{backlog['rebuild_seconds']} | {backlog['rebuild_cpu_us_per_event']} | "
            f"{backlog['rebuild_postgres_cpu_us_per_event']} | "
            f"{backlog['rebuild_machine_busy_percent']} % |",
            "",
            f"{backlog['backlog_events']:,} events, PostgreSQL fsync "
            f"{backlog.get('postgres_fsync', '?')} (`benchmarks/projector_backlog.py`, "
            "run on its own).",
            "",
        ]
    return lines


def _cluster(c: dict[str, Any]) -> list[str]:
    """One broker next to three nodes (``make bench-cluster``, benchmarks/cluster.py)."""
    names = {"1": "one broker, replication factor 1", "3": "three nodes, RF 3, min ISR 2"}
    lines = [
        "## One broker and a three-node cluster",
        "",
        "`make bench-cluster`: POST at 1,000 req/s and the visibility lag at 1,000 events/s, "
        "on one broker and then on three Kafka nodes on the same machine; each the median of "
        f"{c[next(iter(c))]['rounds']} rounds. The load average shows how busy the machine "
        "was besides.",
        "",
        "| Kafka | run | POST p95 ms | POST p99 ms | POST errors | lag p95 ms | lag p99 ms "
        "| load average before → after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, f in sorted(c.items()):
        errors = sum(int(r["errors"]) + int(r["non_2xx"]) for r in f["post_runs"])
        lines.append(
            f"| {names.get(key, key + ' nodes')} | {f['at']} | {f['post_p95_ms_median']} "
            f"| {f['post_p99_ms_median']} | {errors} | {f['lag_p95_ms_median']} "
            f"| {f['lag_p99_ms_median']} | {f['load_average_before']} → "
            f"{f['load_average_after']} |"
        )
    if "1" in c and "3" in c:
        one, three = c["1"], c["3"]

        def ratio(key: str) -> str:
            return f"{float(three[key]) / float(one[key]):.2f}" if float(one[key]) else "-"

        lines.append(
            f"| three nodes ÷ one broker | | {ratio('post_p95_ms_median')} "
            f"| {ratio('post_p99_ms_median')} | | {ratio('lag_p95_ms_median')} "
            f"| {ratio('lag_p99_ms_median')} | |"
        )
    return [*lines, ""]


def _version(text: str) -> str:
    """The first version number in a tool's banner: 'psql (PostgreSQL) 15.18 (…)' → '15.18'."""
    for word in text.split():
        if word[:1].isdigit():
            return word.split("-")[0]
    return text


def render(
    r: dict[str, Any],
    backlog: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
) -> str:
    m = r["machine"]
    memory = r.get("peak_pss_mb", r.get("peak_rss_mb", {}))
    clips = _ok(r, "clips")
    lines = [
        INTRO,
        f"Run: profile `{r['profile']}`, {r['started']}, {m['cpus']} cores, {m['memory_gib']} GiB; "
        f"Python {m['python']}, Kafka {m['kafka']}, PostgreSQL {_version(m['postgres'])}, "
        f"ffmpeg {_version(m['ffmpeg'])}.",
        "",
        "## Against the goals",
        "",
        *_goal_rows(r, backlog),
        "",
        *_bounds(r, backlog),
        "## HTTP",
        "",
        *_http(r),
        "## Combined mix",
        "",
        "500 POST + 500 status + 100 history req/s with the projector and a processor running.",
        "",
        *_mix(r),
        "## Event log and projection",
        "",
        *_event_log(r, backlog),
        "## Media",
        "",
        (
            f"A 6-second clip (probe only), alone: {clips['single_clip_s']} s from submit to "
            f"completed. {clips['clips']} clips at once: {clips['clips_per_s']} clips/s, median "
            f"{clips['p50_s']} s, slowest {clips['max_s']} s."
            if clips
            else f"Clips: {_missing(r, 'clips')}."
        ),
        "",
        *(_cluster(cluster) if cluster else []),
        "## Resources over the whole run",
        "",
        "| process | CPU seconds | peak PSS MiB |",
        "|---|---|---|",
        *[
            f"| {name} | {cpu} | {memory.get(name, '')} |"
            for name, cpu in r.get("cpu_seconds", {}).items()
        ],
        "",
    ]
    return "\n".join(lines)


def _failed_stages(analyses: list[dict[str, Any]]) -> str:
    failed = [n for a in analyses for n, st in a["stages"].items() if st["status"] == "failed"]
    if not failed:
        return ""
    counts = ", ".join(f"{name} x{failed.count(name)}" for name in sorted(set(failed)))
    return f" (failed stages: {counts})"


def long_media(r: dict[str, Any]) -> str:
    """The section of ``make bench-long`` (benchmarks/long_media.py)."""
    lines = [
        "",
        "## Long media (`make bench-long`)",
        "",
        "Each analysed alone by a processor with one slot; real-time factor = seconds per",
        "second of media; peak PSS of the processor's process tree (its stage children too).",
        *([f"Conditions: {r['conditions']}"] if r.get("conditions") else []),
        "",
        "| media | outcome | end to end s | RTF audio | RTF transcript | RTF frames | progress "
        "rises | longest gap s | peak PSS MiB | status JSON bytes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, a in r.get("alone", {}).items():
        rtf = {k: v["real_time_factor"] for k, v in a["stages"].items()}
        lines.append(
            f"| {name} | {a['status']} | {a['end_to_end_seconds']} | {rtf.get('audio', '')} "
            f"| {rtf.get('transcript', '')} | {rtf.get('frames', '')} | {a['progress_rises']} "
            f"| {a['longest_progress_gap_seconds']} | {a['peak_pss_mb']} "
            f"| {a['status_body_bytes']} |"
        )
    c = r.get("concurrent")
    if c:
        alive = ", ".join(
            f"{k} {'alive' if v else 'GONE'}" for k, v in c["processes_alive_after"].items()
        )
        what = (
            f"{len(c['analyses'])} x {c['media_minutes']}-minute audio"
            if c.get("media_minutes")
            else f"{len(c['analyses'])}"
        )
        nice = f", processor at nice {c['processor_nice']}" if c.get("processor_nice") else ""
        median = (
            f"median 30-second window p95 POST {c['post_p95_ms_median_window']} ms, status "
            f"{c['status_p95_ms_median_window']} ms; "
            if c.get("post_p95_ms_median_window") is not None
            else ""
        )
        lines += [
            "",
            f"{what} at once{nice}, API under {c['api_rate']:g} req/s of POST + status: "
            f"{c['completed']} completed in {c['end_to_end_seconds']} s"
            f"{_failed_stages(c['analyses'])}; {median}worst 30-second window "
            f"p95 POST {c['post_p95_ms_worst_window']} ms, status "
            f"{c['status_p95_ms_worst_window']} ms; processor tree peak PSS "
            f"{c['peak_pss_mb']} MiB; after: {alive}.",
        ]
    return "\n".join(lines) + "\n"


def streams(r: dict[str, Any]) -> str:
    """The section of ``make bench-streams`` (benchmarks/streams.py)."""
    memory, fan_out, medians = r["memory"], r["fan_out"], r["medians"]
    without, with_ = medians["without"], medians["with"]
    lines = [
        "",
        "## Live status streams (`make bench-streams`)",
        "",
        f"{r['streams']:,} streams over {r['analyses']} analyses on one API process: PSS "
        f"{memory['idle_pss_mb']} MB idle, {memory['streams_pss_mb']} MB with them open. "
        f"{fan_out['changes_heard']:,} projected changes reached every follower "
        f"({fan_out['never_reached_every_follower']} did not): projection to the last "
        f"follower p50 {fan_out['lag_p50_ms']} ms, p95 {fan_out['lag_p95_ms']} ms.",
        "",
        f"500 req/s of POST and status, median of {len(r['load_rounds'])} rounds:",
        "",
        "| streams open | POST p95 ms | status p95 ms | API CPU ms per request |",
        "|---|---|---|---|",
        f"| none | {without['post_p95_ms']} | {without['status_p95_ms']} "
        f"| {without['api_cpu_ms_per_request']} |",
        f"| {r['streams']:,} | {with_['post_p95_ms']} | {with_['status_p95_ms']} "
        f"| {with_['api_cpu_ms_per_request']} |",
    ]
    return "\n".join(lines) + "\n"


def webhooks(r: dict[str, Any]) -> str:
    """The section of ``make bench-webhooks`` (benchmarks/webhook_lag.py)."""
    lag = r["lag_ms"]
    return (
        "\n".join(
            [
                "",
                "## Webhook delivery (`make bench-webhooks`)",
                "",
                f"{r['rate']:g} completions a second for {r['seconds']:g} s, each with a webhook: "
                f"{r['delivered']:,} of {r['completions']:,} delivered, {r['unverified']} failed "
                "verification. From the terminal event acknowledged to the receiver holding it: "
                f"p50 {lag['p50']} ms, p95 {lag['p95']} ms, p99 {lag['p99']} ms, "
                f"max {lag['max']} ms "
                f"({r['notifier_concurrency']} send slots; machine {r['machine_busy_percent']} % "
                "busy with the API, processor stand-in, notifier and receiver).",
            ]
        )
        + "\n"
    )


def tracing(r: dict[str, Any]) -> str:
    """The section of ``make bench-tracing`` (benchmarks/tracing.py)."""
    off, on = r["medians"]["off"], r["medians"]["on"]

    def row(name: str, m: dict[str, Any]) -> str:
        post, status = m["post"], m["status"]
        return (
            f"| {name} | {post['p95_ms']} | {post['p99_ms']} | {post['api_cpu_ms_per_request']} "
            f"| {status['p95_ms']} | {status['p99_ms']} | {status['api_cpu_ms_per_request']} "
            f"| {post['errors'] + status['errors']} |"
        )

    return (
        "\n".join(
            [
                "",
                "## Tracing off and on (`make bench-tracing`)",
                "",
                f"POST and status at {r['rate']:g} req/s, {r['seconds']:g} s a run, median of "
                f"{r['rounds']} rounds alternating between an API with tracing off and one "
                f"exporting every span over OTLP ({r['span_exports']:,} exports):",
                "",
                "| tracing | POST p95 ms | POST p99 ms | POST API CPU ms/req "
                "| status p95 ms | status p99 ms | status API CPU ms/req | errors |",
                "|---|---|---|---|---|---|---|---|",
                row("off", off),
                row("on", on),
            ]
        )
        + "\n"
    )


def main() -> None:
    import sys

    source = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS  # e.g. results/partial.json
    backlog = json.loads(BACKLOG.read_text()) if BACKLOG.exists() else None
    cluster = json.loads(CLUSTER.read_text()) if CLUSTER.exists() else None
    page = render(json.loads(source.read_text()), backlog, cluster)
    if LONG_MEDIA.exists():
        page += long_media(json.loads(LONG_MEDIA.read_text()))
    if STREAMS.exists():
        page += streams(json.loads(STREAMS.read_text()))
    if WEBHOOKS.exists():
        page += webhooks(json.loads(WEBHOOKS.read_text()))
    if TRACING.exists():
        page += tracing(json.loads(TRACING.read_text()))
    (ROOT / "BENCHMARKS.md").write_text(page)
    print("[bench] BENCHMARKS.md written")


if __name__ == "__main__":
    main()
