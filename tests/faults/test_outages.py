"""Fault injection on the shared stack: the Kafka broker SIGKILLed and
PostgreSQL stopped, each under a steady POST load, then restarted with the
scripts (and environment) scripts/run-tests.sh started them with. The session's
services are NOT restarted: they must recover by themselves. Every scenario
ends with the consistency audit and, whatever happens, leaves the broker and
PostgreSQL running and the services ready for the tests that follow.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MediaServer, Service, wait_until
from tests.faults.audit import audit, end_offsets, projector_reached
from tests.faults.load import SteadyLoad
from tests.faults.stack import accepts, assert_healthy, kafka_pid, record, refusal_latency, script

pytestmark = [pytest.mark.stack, pytest.mark.faults]

OUTAGE_SECONDS = 6


def test_given_steady_load_when_the_kafka_broker_is_sigkilled_and_restarted_then_posts_fail_with_503_and_no_202_is_lost(
    services: dict[str, Service], base_url: str, media_server: MediaServer, prepared: dict[str, str]
) -> None:
    clip = media_server.url("clip.mp4")
    assert_healthy(base_url, clip, services)
    try:
        with SteadyLoad(base_url, clip, interval=0.25, limit=300) as load:
            wait_until(lambda: len(load.result.accepted) >= 8, timeout=30, what="load first")
            pid = kafka_pid()
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, what="broker death")
            time.sleep(OUTAGE_SECONDS)  # the outage itself: the load keeps coming
            script("kafka.sh", "start")
            restarted = time.monotonic()
            wait_until(lambda: accepts(base_url, clip), timeout=120, interval=1, what="202s again")
            recovered = time.monotonic()
            time.sleep(2)
            result = load.stop()
    finally:
        script("kafka.sh", "start")  # a no-op when it is running

    report = audit("kafka-broker-sigkilled", result.sent, result.accepted, prepared, timeout=120)
    record(
        report,
        result,
        outage_s=round(restarted - killed, 1),
        recover_after_restart_s=round(recovered - restarted, 1),
        refusal_latency=refusal_latency(result),
    )
    refused = [s for s, _ in result.refusals]
    assert refused, "no request met the outage"
    assert set(refused) <= {503}, result.statuses
    # One request at a time waits KAFKA_PUBLISH_TIMEOUT_SECONDS (5 s in the suite) to
    # see whether Kafka is back; the others are refused at once.
    took = sorted(t for _, t in result.refusals)
    assert took[-1] < 10, refusal_latency(result)
    assert took[len(took) // 2] < 1, refusal_latency(result)
    assert report.clean, report
    assert_healthy(base_url, clip, services)


def test_given_steady_load_when_postgresql_is_stopped_and_restarted_then_queries_answer_503_and_the_projector_catches_up(
    services: dict[str, Service], base_url: str, media_server: MediaServer, prepared: dict[str, str]
) -> None:
    clip = media_server.url("clip.mp4")
    assert_healthy(base_url, clip, services)
    query_statuses: dict[int, int] = {}
    try:
        with SteadyLoad(base_url, clip, interval=0.25, limit=300) as load:
            wait_until(lambda: len(load.result.accepted) >= 8, timeout=30, what="load first")
            probe = load.result.accepted[0]
            stopped = time.monotonic()
            script("postgres.sh", "stop")
            with httpx.Client(base_url=base_url, timeout=15) as client:
                ends = time.monotonic() + OUTAGE_SECONDS
                while time.monotonic() < ends:
                    status = client.get(f"/api/media/status/{probe}").status_code
                    query_statuses[status] = query_statuses.get(status, 0) + 1
                    time.sleep(0.5)
                script("postgres.sh", "start")
                restarted = time.monotonic()
                wait_until(
                    lambda: client.get(f"/api/media/status/{probe}").status_code == 200,
                    timeout=60,
                    interval=0.5,
                    what="the query side to recover",
                )
                queries_back = time.monotonic()
            time.sleep(2)
            result = load.stop()
        # The projector paused while PostgreSQL was away; it must reach the log's end.
        ends_now = end_offsets(prepared)
        wait_until(lambda: projector_reached(prepared, ends_now), timeout=90, what="catch-up")
        caught_up = time.monotonic()
    finally:
        script("postgres.sh", "start")  # a no-op when it is running

    report = audit("postgresql-stopped", result.sent, result.accepted, prepared, timeout=120)
    record(
        report,
        result,
        outage_s=round(restarted - stopped, 1),
        queries_back_after_restart_s=round(queries_back - restarted, 1),
        projector_caught_up_after_restart_s=round(caught_up - restarted, 1),
        query_statuses_during_outage={str(k): v for k, v in query_statuses.items()},
    )
    assert set(query_statuses) == {503}, query_statuses
    assert report.clean, report
    assert_healthy(base_url, clip, services)
