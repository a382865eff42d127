"""The PRD's load test (section 9): its request mix against a running stack, with
its pass mark. Run by ``make load``; on its own::

    locust -f tests/load/locustfile.py --headless --host http://127.0.0.1:8000 \\
        -u 100 -r 20 --run-time 60s --reset-stats

Each user sends one request a second (100 users: 100 req/s), in the proportions
of the benchmark's mix: 5 POST analyze, 5 GET status (of the user's own
analyses) and 1 GET history. The run fails (exit code 1) when the p95 latency
over all requests reaches LOAD_P95_MS (500), failures reach LOAD_MAX_FAIL_RATIO
(0.001, 0.1 %), or fewer than LOAD_MIN_RPS_RATIO (0.9) of the users' offered
rate was achieved.

The submitted ``media_url`` (LOAD_MEDIA_URL) is by default a missing file on the
sample server ``make up`` starts: each analysis fails at once without media
work, so the figures are the API's, not the processors' throughput. Point it at
real media to load the processors too. ``benchmarks/`` (``make bench``) remains
the measuring instrument; this file is for teams that load-test with Locust.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

from locust import FastHttpUser, constant_throughput, events, task
from locust.env import Environment

P95_MS = float(os.environ.get("LOAD_P95_MS", "500"))
MAX_FAIL_RATIO = float(os.environ.get("LOAD_MAX_FAIL_RATIO", "0.001"))
MIN_RPS_RATIO = float(os.environ.get("LOAD_MIN_RPS_RATIO", "0.9"))
MEDIA_URL = os.environ.get(
    "LOAD_MEDIA_URL", f"http://127.0.0.1:{os.environ.get('MA_SAMPLES_PORT', '8090')}/missing.mp4"
)
MEDIA_TYPES = ("video", "audio", "image", "document")
REQUESTS_PER_USER_SECOND = 1.0

log = logging.getLogger("load")


class Client(FastHttpUser):
    """A PRD client: submits, polls its own analyses, browses the history."""

    wait_time = constant_throughput(REQUESTS_PER_USER_SECOND)

    def on_start(self) -> None:
        self.analysis_ids: list[str] = []
        self.analyze()

    @task(5)
    def analyze(self) -> None:
        body = {
            "prompt": "What is happening in this video?",
            "media_url": MEDIA_URL,
            "media_type": random.choice(MEDIA_TYPES),
            "config": {"model": "gpt-4o", "max_tokens": 2000, "temperature": 0.7},
        }
        with self.client.post("/api/media/analyze", json=body, catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"expected 202, got {response.status_code}: {response.text}")
                return
            self.analysis_ids.append(response.json()["analysis_id"])

    @task(5)
    def status(self) -> None:
        if not self.analysis_ids:
            return
        analysis_id = random.choice(self.analysis_ids[-50:])
        self.client.get(f"/api/media/status/{analysis_id}", name="/api/media/status/{id}")

    @task(1)
    def history(self) -> None:
        page = random.randint(1, 5)
        self.client.get(
            f"/api/media/history?page={page}&per_page=20", name="/api/media/history?page=N"
        )


@events.quitting.add_listener
def pass_mark(environment: Environment, **_: Any) -> None:
    """Set the exit code from the PRD's targets, one line each."""
    total = environment.stats.total
    if total.num_requests == 0:
        log.error("FAIL: no request was sent")
        environment.process_exit_code = 1
        return
    p95 = total.get_response_time_percentile(0.95)
    options = environment.parsed_options
    offered = (options.num_users if options else 0) * REQUESTS_PER_USER_SECOND
    failures = [
        f"p95 {p95:.0f} ms >= {P95_MS:.0f} ms" if p95 >= P95_MS else "",
        f"error rate {total.fail_ratio:.4%} >= {MAX_FAIL_RATIO:.2%}"
        if total.fail_ratio >= MAX_FAIL_RATIO
        else "",
        f"achieved {total.total_rps:.1f} req/s < {MIN_RPS_RATIO:.0%} of {offered:.0f} offered"
        if offered and total.total_rps < MIN_RPS_RATIO * offered
        else "",
    ]
    summary = (
        f"{total.num_requests} requests, {total.total_rps:.1f} req/s, p50 "
        f"{total.get_response_time_percentile(0.5):.0f} ms, p95 {p95:.0f} ms, p99 "
        f"{total.get_response_time_percentile(0.99):.0f} ms, errors {total.num_failures} "
        f"({total.fail_ratio:.3%})"
    )
    if any(failures):
        log.error("FAIL: %s (%s)", "; ".join(f for f in failures if f), summary)
        environment.process_exit_code = 1
    else:
        log.info("PASS: %s", summary)
        environment.process_exit_code = 0
