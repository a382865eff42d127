"""Helpers for scenarios that take the shared Kafka or PostgreSQL down: run the
scripts that scripts/run-tests.sh started them with, prove the session's stack
is healthy again, and record each scenario's figures."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, Service, wait_for_status, wait_until
from tests.faults.audit import AuditReport
from tests.faults.load import LoadResult


def state_dir() -> Path:
    # Exported by scripts/run-tests.sh together with the ports; the scripts read them too.
    return Path(os.environ["MA_STATE_DIR"])


def script(name: str, action: str) -> None:
    subprocess.run([str(ROOT / "scripts" / name), action], check=True, cwd=ROOT, timeout=180)


def kafka_pid() -> int:
    return int((state_dir() / "kafka" / "kafka.pid").read_text().strip())


def accepts(base_url: str, media_url: str) -> bool:
    body = {"prompt": "Ready?", "media_url": media_url, "media_type": "video"}
    try:
        return httpx.post(f"{base_url}/api/media/analyze", json=body, timeout=15).status_code == 202
    except httpx.HTTPError:
        return False


def assert_healthy(base_url: str, media_url: str, services: dict[str, Service]) -> None:
    """Every session service alive, /readyz 200, and a fresh analysis completes."""
    for service in services.values():
        assert service.process.poll() is None, f"{service.name} exited:\n{service.log_tail()}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=90, interval=0.5, what="/readyz")
    body = {"prompt": "Ready?", "media_url": media_url, "media_type": "video"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post("/api/media/analyze", json=body)
        assert response.status_code == 202, response.text
        done = wait_for_status(client, response.json()["analysis_id"], {"completed"}, timeout=90)
        assert done["status"] == "completed"


def refusal_latency(result: LoadResult) -> dict[str, float | None]:
    took = sorted(t for _, t in result.refusals)
    if not took:
        return {"median_s": None, "max_s": None}
    return {"median_s": round(statistics.median(took), 3), "max_s": round(took[-1], 3)}


def record(report: AuditReport, result: LoadResult, **extra: Any) -> dict[str, Any]:
    """Print the scenario's figures and append them to $MA_STATE_DIR/fault-results.jsonl."""
    figures: dict[str, Any] = {
        "scenario": report.scenario,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "requests_sent": result.sent,
        "accepted_202": report.accepted,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "events_in_log": report.events_in_log,
        "rows_in_table": report.rows_in_table,
        "lost": report.lost,
        "duplicated": report.duplicated,
        "stuck": report.stuck,
        "mismatched": len(report.mismatched),
        **extra,
    }
    print("FAULTS figures " + json.dumps(figures), flush=True)
    with (state_dir() / "fault-results.jsonl").open("a") as out:
        out.write(json.dumps(figures) + "\n")
    return figures
