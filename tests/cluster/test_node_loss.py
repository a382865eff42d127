"""Kafka nodes SIGKILLed under a steady POST load on the three-node cluster
(`make test-cluster`): the node leading most partitions, the active controller,
two nodes at once, and a node together with a processor and a projector. Each
scenario ends with the consistency audit over its part of the log and records
its figures in $MA_STATE_DIR/cluster-results.jsonl."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import nodes
from tests.cluster.audit import audit_since, wait_terminal
from tests.cluster.conftest import ScaledOut
from tests.cluster.load import OpenLoad, OpenLoadResult, now
from tests.conftest import BIN, ROOT, MediaServer
from tests.faults.audit import AuditReport, end_offsets

pytestmark = [
    pytest.mark.stack,
    pytest.mark.faults,
    pytest.mark.skipif(
        nodes.NODES < 3, reason="needs the three-node Kafka cluster of `make test-cluster`"
    ),
    pytest.mark.timeout(int(os.environ.get("CLUSTER_TEST_TIMEOUT", "1200"))),
]

# The load: 200 POSTs a second for 60 s (40 s for the last two scenarios).
# CLUSTER_RATE and CLUSTER_LOAD_SECONDS scale it for a machine whose processors
# cannot end that many analyses within CLUSTER_DRAIN_SECONDS after the load.
RATE = float(os.environ.get("CLUSTER_RATE", "200"))
LOAD_SECONDS = int(os.environ.get("CLUSTER_LOAD_SECONDS", "60"))
SHORT_LOAD_SECONDS = max(30, LOAD_SECONDS * 2 // 3)
DRAIN_SECONDS = float(os.environ.get("CLUSTER_DRAIN_SECONDS", "420"))
KILL_AT = 10  # seconds into the load
DOWN_SECONDS = 20  # until the killed nodes are started again
# Every REAL_EVERY-th request the real clip, the others fail fast (HTTP 404).
REAL_EVERY = int(os.environ.get("CLUSTER_REAL_EVERY", "100"))
WINDOW_GOAL = 10  # seconds of 503s a single node loss may cause


def run(
    name: str,
    stack: ScaledOut,
    media_server: MediaServer,
    victims: list[int],
    *,
    seconds: int,
    during: Callable[[], None] | None = None,
    after_restart: Callable[[], None] | None = None,
) -> tuple[AuditReport, OpenLoadResult, dict[str, Any]]:
    env = stack.env
    nodes.wait_fully_replicated(env)
    for service in stack.running.values():
        assert service.process.poll() is None, f"{service.name} exited:\n{service.log_tail()}"
    since = end_offsets(env)
    load = OpenLoad(
        stack.base_url,
        media_server.url("clip.mp4"),
        media_server.url("missing.mp4"),
        rate=RATE,
        seconds=seconds,
        real_every=REAL_EVERY,
    )
    with load:
        time.sleep(KILL_AT)
        deaths = [nodes.kill(node) for node in victims]
        if during is not None:
            during()
        time.sleep(max(0.0, deaths[0] + DOWN_SECONDS - now()))
        restarting = now()
        nodes.start_missing()
        restarted = now()
        if after_restart is not None:
            after_restart()
        result = load.wait(timeout=seconds + 120)
    took = result.answers[-1].sent_at - result.answers[0].sent_at if result.answers else 0
    drained = wait_terminal(env, result.accepted, timeout=DRAIN_SECONDS)
    report = audit_since(name, result.sent, result.accepted, env, since)
    figures = {
        "scenario": name,
        "killed_nodes": victims,
        "offered_req_s": RATE,
        "achieved_req_s": round(result.sent / took, 1) if took else None,
        "sent": result.sent,
        "accepted_202": len(result.accepted),
        "refused_503": result.statuses.get(503, 0),
        "statuses": {str(k): v for k, v in result.statuses.items()},
        "events_in_log": report.events_in_log,
        "rows_in_table": report.rows_in_table,
        "lost": report.lost,
        "duplicated": report.duplicated,
        "stuck": report.stuck,
        "mismatched": len(report.mismatched),
        "longest_503_window_s": round(result.longest_refusal_window(), 2),
        "node_restart_s": round(restarted - restarting, 1),
        "all_terminal_after_load_s": round(drained, 1),
        "deaths": deaths,
    }
    print("CLUSTER figures " + json.dumps({k: v for k, v in figures.items() if k != "deaths"}))
    with (Path(os.environ["MA_STATE_DIR"]) / "cluster-results.jsonl").open("a") as out:
        out.write(json.dumps({k: v for k, v in figures.items() if k != "deaths"}) + "\n")
    return report, result, figures


def test_given_steady_load_when_the_node_leading_most_partitions_is_sigkilled_then_no_202_is_lost_and_503s_are_brief(
    scaled_out: ScaledOut, media_server: MediaServer
) -> None:
    victim = nodes.leads_most(scaled_out.env)
    report, result, figures = run(
        "partition-leader-killed", scaled_out, media_server, [victim], seconds=LOAD_SECONDS
    )
    assert set(result.statuses) <= {202, 503}, result.statuses
    assert report.clean, report
    assert figures["longest_503_window_s"] < WINDOW_GOAL, result.refusal_windows()


def test_given_steady_load_when_the_active_controller_is_sigkilled_then_no_202_is_lost_and_503s_are_brief(
    scaled_out: ScaledOut, media_server: MediaServer
) -> None:
    victim = nodes.quorum_leader()
    report, result, figures = run(
        "active-controller-killed", scaled_out, media_server, [victim], seconds=LOAD_SECONDS
    )
    assert set(result.statuses) <= {202, 503}, result.statuses
    assert report.clean, report
    assert figures["longest_503_window_s"] < WINDOW_GOAL, result.refusal_windows()


def test_given_two_nodes_sigkilled_at_once_then_posts_answer_503_and_every_202_survives_the_restart(
    scaled_out: ScaledOut, media_server: MediaServer
) -> None:
    first = nodes.leads_most(scaled_out.env)
    controller = nodes.quorum_leader()
    second = controller if controller != first else next(n for n in (1, 2, 3) if n != first)
    report, result, figures = run(
        "two-nodes-killed", scaled_out, media_server, [first, second], seconds=SHORT_LOAD_SECONDS
    )
    both_dead = figures["deaths"][-1]
    # One node holds one copy at most: nothing sent once two were gone may be a 202.
    after = [a for a in result.answers if a.sent_at > both_dead]
    assert after, "no request met the outage"
    assert not [a for a in after if a.status == 202 and a.sent_at < both_dead + DOWN_SECONDS - 1]
    assert 503 in {a.status for a in after}, result.statuses
    assert set(result.statuses) <= {202, 503}, result.statuses
    assert report.clean, report


def test_given_a_node_loss_when_a_processor_and_a_projector_are_sigkilled_too_then_nothing_is_lost_and_the_projection_verifies(
    scaled_out: ScaledOut, media_server: MediaServer
) -> None:
    victim = nodes.leads_most(scaled_out.env)

    def kill_consumers() -> None:
        time.sleep(2)
        scaled_out.kill("processor-1")
        scaled_out.kill("projector-1")

    def restart_consumers() -> None:
        scaled_out.start("processor-1")
        scaled_out.start("projector-1")

    report, result, _ = run(
        "node-processor-projector-killed",
        scaled_out,
        media_server,
        [victim],
        seconds=SHORT_LOAD_SECONDS,
        during=kill_consumers,
        after_restart=restart_consumers,
    )
    assert set(result.statuses) <= {202, 503}, result.statuses
    assert report.clean, report
    verify = subprocess.run(
        [str(BIN / "media-analysis"), "projection", "verify"],
        env=scaled_out.env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "verify OK" in verify.stdout
