"""The three Kafka nodes that `make test-cluster` (scripts/run-tests.sh with
MA_KAFKA_BROKERS=3) started: their PIDs, who leads what, SIGKILL and restart
with the same script and environment."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from events import EVENTS_TOPIC
from tests.conftest import ROOT, wait_until

NODES = int(os.environ.get("MA_KAFKA_BROKERS", "1"))


def node_pid(node: int) -> int:
    state = Path(os.environ["MA_STATE_DIR"]) / "kafka" / f"node-{node}" / "kafka.pid"
    return int(state.read_text().strip())


def kill(node: int) -> float:
    """SIGKILL the node; return when it is gone."""
    pid = node_pid(node)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, what=f"node {node} death")
    return time.perf_counter()  # the load generator's clock


def start_missing() -> None:
    """scripts/kafka.sh start: starts the nodes that are not running, waits for them."""
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start"], check=True, cwd=ROOT, timeout=240)


def quorum_leader() -> int:
    """The active controller, as `scripts/kafka.sh status` reports it (a JVM tool,
    slow to start on a busy machine: asked up to three times)."""
    out = ""
    for _ in range(3):
        out = subprocess.run(
            [str(ROOT / "scripts" / "kafka.sh"), "status"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        ).stdout
        found = re.search(r"quorum leader \(active controller\): node (\d+)", out)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no quorum leader in scripts/kafka.sh status:\n{out}")


def partitions(env: dict[str, str]) -> list[dict[str, object]]:
    """The events topic's partitions: leader, replicas and in-sync replicas."""

    async def read() -> list[dict[str, object]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
        await admin.start()
        try:
            (topic,) = await admin.describe_topics([EVENTS_TOPIC])
            return list(topic["partitions"])
        finally:
            await admin.close()

    return asyncio.run(read())


def leads_most(env: dict[str, str]) -> int:
    """The node that leads most of the events topic's partitions."""
    counts: dict[int, int] = {}
    for partition in partitions(env):
        leader = int(partition["leader"])  # type: ignore[call-overload]
        counts[leader] = counts.get(leader, 0) + 1
    return max(counts, key=lambda n: (counts[n], -n))


def fully_replicated(env: dict[str, str]) -> bool:
    try:
        return all(len(p["isr"]) == NODES for p in partitions(env))  # type: ignore[arg-type]
    except Exception:  # a node still starting answers metadata partly
        return False


def wait_fully_replicated(env: dict[str, str], timeout: float = 120) -> None:
    wait_until(lambda: fully_replicated(env), timeout=timeout, interval=1, what="every ISR full")
