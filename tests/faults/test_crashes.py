"""Fault injection on the real stack: the projector and the processor
SIGKILLed again and again under a steady POST load, and the same records
delivered twice. Each scenario ends with the consistency audit.

The session's projector and processor are stopped for the module (so the
processes here are the only consumers and can be killed) and fresh ones take
their places when the module ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer

from events import EVENTS_TOPIC
from tests.conftest import MediaServer, Service, wait_until
from tests.e2e.test_processing_runtime import read_topic
from tests.faults.audit import audit, end_offsets, projector_reached, table_rows
from tests.faults.load import SteadyLoad

pytestmark = [pytest.mark.stack, pytest.mark.faults]


class Consumers:
    """This module's projector and processor processes, each ended by its PID."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: dict[str, Service] = {}
        self.kills = 0
        self._n = 0

    def start(self, name: str) -> Service:
        self._n += 1
        self.running[name] = Service(f"faults-{name}-{self._n}", name, self.env)
        return self.running[name]

    def kill(self, name: str) -> None:
        service = self.running.pop(name)
        service.process.kill()  # SIGKILL: no commit, no cleanup
        service.process.wait()
        service.stop()
        self.kills += 1

    def stop_all(self) -> None:
        for service in self.running.values():
            service.stop()
        self.running.clear()


@pytest.fixture(scope="module")
def consumers(services: dict[str, Service], prepared: dict[str, str]) -> Iterator[Consumers]:
    services["projector"].stop()
    services["processor"].stop()
    own = Consumers(prepared)
    own.start("projector")
    own.start("processor")
    try:
        yield own
    finally:
        own.stop_all()
        services["projector"] = Service("projector", "projector", prepared)
        services["processor"] = Service("processor", "processor", prepared)


def test_given_steady_load_when_projector_and_processor_are_sigkilled_repeatedly_then_nothing_is_lost_doubled_or_stuck(
    consumers: Consumers, base_url: str, media_server: MediaServer
) -> None:
    with SteadyLoad(base_url, media_server.url("clip.mp4"), interval=0.4, limit=80) as load:
        deadline = time.monotonic() + 30
        victim = "processor"
        while time.monotonic() < deadline:
            time.sleep(3)  # let each incarnation consume a little before it dies
            consumers.kill(victim)
            consumers.start(victim)
            victim = "projector" if victim == "processor" else "processor"
        result = load.stop()

    assert result.accepted, result.statuses
    report = audit("consumers-sigkilled", result.sent, result.accepted, consumers.env)
    print(f"FAULTS consumers-sigkilled: sigkills={consumers.kills} statuses={result.statuses}")
    assert report.clean, report
    assert len(result.accepted) == result.sent, result.statuses  # Kafka and PG stayed up


def test_given_completed_analyses_when_their_records_are_delivered_twice_then_the_table_is_unchanged(
    consumers: Consumers, base_url: str, media_server: MediaServer
) -> None:
    with SteadyLoad(base_url, media_server.url("clip.mp4"), interval=0.1, limit=10) as load:
        wait_until(lambda: load.result.sent >= 10, timeout=60, what="10 requests")
        result = load.stop()
    first = audit("before-duplicates", result.sent, result.accepted, consumers.env)
    assert first.clean, first
    ids = set(result.accepted)
    before = table_rows(consumers.env, ids)

    partitions = int(consumers.env["KAFKA_TOPIC_PARTITIONS"])
    mine = [
        r
        for r in read_topic(consumers.env, EVENTS_TOPIC, partitions)
        if r.key is not None and r.key.decode() in ids
    ]

    async def produce_again() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=consumers.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all"
        )
        await producer.start()
        try:
            for r in mine:
                await producer.send_and_wait(
                    EVENTS_TOPIC, r.value, key=r.key, partition=r.partition, headers=list(r.headers)
                )
        finally:
            await producer.stop()

    asyncio.run(produce_again())
    ends = end_offsets(consumers.env)
    wait_until(
        lambda: projector_reached(consumers.env, ends),
        timeout=60,
        what="the projector to pass the duplicates",
    )

    after = table_rows(consumers.env, ids)
    assert after == before
    report = audit(
        f"duplicate-delivery ({len(mine)} records re-produced)",
        result.sent,
        result.accepted,
        consumers.env,
    )
    assert report.clean, report
