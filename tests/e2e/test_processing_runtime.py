"""The processors' runtime on the real stack: concurrency, crash safety,
retries, cancellation, poison records and SSRF, with processors as real
processes that this module starts, kills and restarts.

The session's processor is stopped for the module (so the processors here are
the only group members and receive every request) and a fresh one takes its
place when the module ends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner

from events import (
    DEAD_LETTER_TOPIC,
    EVENTS_TOPIC,
    AnalysisDeleted,
    AnalysisRequested,
    decode,
    new_envelope,
)
from processors.consumer import GROUP_ID
from tests.conftest import Service, make_clip, wait_for_status, wait_until
from tests.integration.log_tools import produce
from tests.loopback import BehaviourServer, CountingListener, clip_host

pytestmark = pytest.mark.stack

TERMINAL_TYPES = {"media-analysis.analysis.completed", "media-analysis.analysis.failed"}


class Processors:
    """Processor processes of this module, each ended by its PID."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[Service] = []
        self._n = 0

    def start(self, **overrides: str) -> Service:
        self._n += 1
        service = Service(f"runtime-processor-{self._n}", "processor", {**self.env, **overrides})
        self.running.append(service)
        return service

    def kill(self, service: Service) -> None:
        service.process.kill()  # SIGKILL: no chance to commit or clean up
        service.process.wait()
        service.stop()
        self.running.remove(service)

    def stop_all(self) -> None:
        for service in self.running:
            service.stop()
        self.running.clear()


@pytest.fixture(scope="module")
def processors(services: dict[str, Service], prepared: dict[str, str]) -> Iterator[Processors]:
    services["processor"].stop()
    own = Processors(prepared)
    own.start()
    try:
        yield own
    finally:
        own.stop_all()
        services["processor"] = Service("processor", "processor", prepared)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BehaviourServer]:
    with clip_host(tmp_path_factory.mktemp("behaviours")) as server:
        yield server


def submit(client: httpx.Client, media_url: str) -> str:
    response = client.post(
        "/api/media/analyze",
        json={"prompt": "What is this?", "media_url": media_url, "media_type": "video"},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["analysis_id"])


def partition_of(analysis_id: str, partitions: int) -> int:
    return int(DefaultPartitioner()(analysis_id.encode(), list(range(partitions)), None))


def read_topic(env: dict[str, str], topic: str, partitions: int) -> list[Any]:
    """Every record of ``topic`` from the beginning up to its current end."""

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], enable_auto_commit=False
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            records: list[Any] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                positions = {tp: await consumer.position(tp) for tp in tps}
                if all(positions[tp] >= end[tp] for tp in tps):
                    break
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
            return records
        finally:
            await consumer.stop()

    return asyncio.run(read())


def events_of(env: dict[str, str], analysis_id: str) -> list[Any]:
    """The analysis's events in log order, decoded."""
    partitions = int(env["KAFKA_TOPIC_PARTITIONS"])
    records = read_topic(env, EVENTS_TOPIC, partitions)
    mine = [r for r in records if r.key == analysis_id.encode()]
    return [decode(r.value, r.headers) for r in sorted(mine, key=lambda r: r.offset)]


def runs(events: list[Any]) -> list[int]:
    return [e.data.attempt for e in events if e.type == "media-analysis.analysis.started"]


def test_quick_analyses_finish_while_a_slow_one_runs_even_on_its_partition(
    processors: Processors, client: httpx.Client, host: BehaviourServer
) -> None:
    partitions = int(processors.env["KAFKA_TOPIC_PARTITIONS"])
    slow_path = f"/slow/25/{uuid.uuid4()}"
    slow = submit(client, host.url(slow_path))
    wait_until(lambda: host.count(slow_path) == 1, timeout=30, what="the slow fetch to start")

    quick: list[str] = []
    with ThreadPoolExecutor(max_workers=5) as pool:
        while len(quick) < 10 or not any(
            partition_of(q, partitions) == partition_of(slow, partitions) for q in quick
        ):
            assert len(quick) < 40, "no quick analysis landed on the slow one's partition"
            batch = 10 if not quick else 5
            quick += pool.map(lambda _: submit(client, host.url("clip.mp4")), range(batch))

    for analysis_id in quick:
        done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=60)
        assert done["status"] == "completed", done["error_message"]
    still = client.get(f"/api/media/status/{slow}").json()
    assert still["status"] == "processing", "the slow analysis should still be running"
    assert host.count(slow_path, "finished") == 0

    done = wait_for_status(client, slow, {"completed", "failed"}, timeout=60)
    assert done["status"] == "completed", done["error_message"]


def test_a_host_answering_503_twice_then_200_completes_on_the_third_run(
    processors: Processors, client: httpx.Client, host: BehaviourServer
) -> None:
    path = f"/flaky/2/{uuid.uuid4()}"
    analysis_id = submit(client, host.url(path))
    done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=60)
    assert done["status"] == "completed", done["error_message"]
    assert host.count(path) == 3
    events = events_of(processors.env, analysis_id)
    assert runs(events) == [1, 2, 3]
    assert [e.type for e in events].count("media-analysis.analysis.failed") == 0


def test_a_permanent_404_fails_with_its_code_and_is_not_retried(
    processors: Processors, client: httpx.Client, host: BehaviourServer
) -> None:
    path = f"/missing-{uuid.uuid4()}.mp4"
    analysis_id = submit(client, host.url(path))
    done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=60)
    assert done["status"] == "failed"
    assert done["error_message"].startswith("fetch_http_error: ")
    assert "HTTP 404" in done["error_message"]
    assert host.count(path) == 1
    failed = [e for e in events_of(processors.env, analysis_id) if e.type in TERMINAL_TYPES]
    assert len(failed) == 1
    assert failed[0].data.retryable is False


def test_delete_during_a_long_analysis_stops_its_work_within_seconds(
    processors: Processors, client: httpx.Client, host: BehaviourServer
) -> None:
    path = f"/slow/40/{uuid.uuid4()}"
    analysis_id = submit(client, host.url(path))
    wait_until(lambda: host.count(path) == 1, timeout=30, what="the slow fetch to start")

    assert client.delete(f"/api/media/{analysis_id}").status_code == 204
    deleted_at = time.monotonic()
    wait_until(
        lambda: host.when(path, "disconnected"), timeout=10, what="the download to be dropped"
    )
    stopped = host.when(path, "disconnected")
    assert stopped is not None
    assert stopped - deleted_at < 5
    assert client.get(f"/api/media/status/{analysis_id}").status_code == 410

    time.sleep(2)  # give a wrongly surviving run the chance to record something
    types = [e.type for e in events_of(processors.env, analysis_id)]
    after_delete = types[types.index("media-analysis.analysis.deleted") + 1 :]
    assert after_delete == []
    assert not TERMINAL_TYPES & set(types)


def committed_offsets(env: dict[str, str]) -> dict[int, int]:
    """Where the processors' consumer group has committed each event partition."""

    async def read() -> dict[int, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(GROUP_ID)
        finally:
            await admin.close()
        return {
            tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == EVENTS_TOPIC
        }

    return asyncio.run(read())


def test_requests_deleted_in_the_batch_that_brought_them_leave_the_processor_working(
    processors: Processors, client: httpx.Client, host: BehaviourServer
) -> None:
    # A request and its deletion fetched together: the deletion cancels a run
    # that has not started. Each such run must give back its slot and its record;
    # a few that did not once paused the processor's fetching for good.
    requests = [
        AnalysisRequested(
            analysis_id=uuid.uuid4(), prompt="p", media_url=host.url("clip.mp4"), media_type="video"
        )
        for _ in range(20)
    ]
    envelopes = [
        new_envelope(event, source="/tests/runtime")
        for request in requests
        for event in (request, AnalysisDeleted(analysis_id=request.analysis_id))
    ]
    acked = asyncio.run(produce(processors.env["KAFKA_BOOTSTRAP_SERVERS"], envelopes))

    analysis_id = submit(client, host.url("clip.mp4"))
    done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=60)
    assert done["status"] == "completed", done["error_message"]

    last: dict[int, int] = {}
    for meta in acked:
        last[meta.partition] = max(last.get(meta.partition, -1), meta.offset)
    wait_until(
        lambda: all(committed_offsets(processors.env).get(p, -1) > o for p, o in last.items()),
        timeout=20,
        what="the group's commits to pass every deleted request",
    )


def test_poison_records_go_to_the_dead_letter_topic_and_processing_continues(
    processors: Processors, client: httpx.Client, host: BehaviourServer
) -> None:
    marker = str(uuid.uuid4()).encode()

    def attributes(event_type: bytes) -> list[tuple[str, bytes]]:
        return [
            ("ce_specversion", b"1.0"),
            ("ce_id", str(uuid.uuid4()).encode()),
            ("ce_source", b"/tests"),
            ("ce_type", event_type),
            ("ce_subject", marker),
            ("ce_time", b"2026-01-01T00:00:00Z"),
            ("content-type", b"application/json"),
            ("x-test-marker", marker),
        ]

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=processors.env["KAFKA_BOOTSTRAP_SERVERS"])
        await producer.start()
        try:
            garbage = attributes(b"media-analysis.analysis.requested")
            await producer.send_and_wait(
                EVENTS_TOPIC, b"\xff\xfe{not json", key=marker, headers=garbage
            )
            unknown = attributes(b"media-analysis.analysis.exploded")
            await producer.send_and_wait(EVENTS_TOPIC, b"{}", key=marker, headers=unknown)
            latin1 = [*attributes(b"media-analysis.analysis.requested"), ("x-note", b"caf\xe9")]
            await producer.send_and_wait(EVENTS_TOPIC, b"{}", key=marker, headers=latin1)
        finally:
            await producer.stop()

    asyncio.run(produce())
    analysis_id = submit(client, host.url("clip.mp4"))
    done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=60)
    assert done["status"] == "completed", done["error_message"]

    partitions = int(processors.env["KAFKA_TOPIC_PARTITIONS"])

    def dead_letters() -> dict[str, list[dict[str, str]]]:
        by_consumer: dict[str, list[dict[str, str]]] = {}
        for record in read_topic(processors.env, DEAD_LETTER_TOPIC, partitions):
            headers = {k: v.decode(errors="replace") for k, v in record.headers}
            if headers.get("x-test-marker") == marker.decode():
                by_consumer.setdefault(headers["x-dlq-consumer"], []).append(headers)
        counts = {consumer: len(letters) for consumer, letters in by_consumer.items()}
        wanted = {"media-analysis-processors": 3, "media-analysis-projector": 3}
        return by_consumer if counts == wanted else {}

    # Both consumers dead-letter each record once and carry on.
    found = wait_until(dead_letters, timeout=30, interval=1, what="three dead letters each")
    letters = found["media-analysis-processors"]
    reasons = sorted(h["x-dlq-reason"] for h in letters)
    assert reasons[0].startswith("undecodable: header 'x-note' is not UTF-8")
    assert reasons[1].startswith("undecodable: value is not JSON")
    assert reasons[2].startswith("unknown-type")
    assert all(h["x-dlq-topic"] == EVENTS_TOPIC for h in letters)


def test_processors_scale_out_as_a_consumer_group(
    processors: Processors, client: httpx.Client, host: BehaviourServer
) -> None:
    second = processors.start()
    partitions = int(processors.env["KAFKA_TOPIC_PARTITIONS"])
    try:
        wait_until(
            lambda: "assigned to partitions" in second.log_path.read_text(errors="replace"),
            timeout=60,
            what="the second processor to join the group",
        )
        submitted: list[str] = []
        # Requests on every partition reach both members, whatever the assignment.
        while {partition_of(a, partitions) for a in submitted} != set(range(partitions)):
            assert len(submitted) < 30
            submitted.append(submit(client, host.url("clip.mp4")))
        workers = set()
        for analysis_id in submitted:
            done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=60)
            assert done["status"] == "completed", done["error_message"]
            started = [e for e in events_of(processors.env, analysis_id) if runs([e])]
            workers.add(started[-1].data.processor)
        assert len(workers) == 2, workers
    finally:
        first = next(s for s in processors.running if s is not second)
        assigned = first.log_path.read_text(errors="replace").count("assigned to partitions")
        second.stop()
        processors.running.remove(second)
        # The survivor is given every partition again; a request submitted before
        # that rebalance would be revoked mid-run and run once more.
        wait_until(
            lambda: (
                first.log_path.read_text(errors="replace").count("assigned to partitions")
                > assigned
            ),
            timeout=60,
            what="the group to settle on the remaining processor",
        )


def test_a_processor_killed_mid_analysis_loses_nothing(
    processors: Processors, client: httpx.Client, host: BehaviourServer
) -> None:
    path = f"/slow/6/{uuid.uuid4()}"
    analysis_id = submit(client, host.url(path))
    wait_until(lambda: host.count(path) == 1, timeout=30, what="the slow fetch to start")
    # The fetch starts right after AnalysisStarted is acknowledged; the projector
    # shows it a moment later (the fetch takes 6 s).
    wait_until(
        lambda: client.get(f"/api/media/status/{analysis_id}").json()["status"] == "processing",
        timeout=5,
        what="the analysis to show as processing",
    )

    for service in list(processors.running):
        processors.kill(service)
    processors.start()

    done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=120)
    assert done["status"] == "completed", done["error_message"]
    events = events_of(processors.env, analysis_id)
    assert [e.type for e in events].count("media-analysis.analysis.completed") == 1
    assert not any(e.type == "media-analysis.analysis.failed" for e in events)
    assert runs(events) == [1, 2]
    assert host.count(path) == 2


@pytest.fixture
def listeners() -> Iterator[dict[str, CountingListener]]:
    made = {
        "127.0.0.2": CountingListener("127.0.0.2"),
        "::1": CountingListener("::1"),
        "127.0.0.1": CountingListener("127.0.0.1"),  # what http://0.0.0.0 would reach
    }
    yield made
    for listener in made.values():
        listener.close()


def test_with_a_narrow_allow_list_internal_targets_fail_and_are_never_contacted(
    processors: Processors,
    client: httpx.Client,
    host: BehaviourServer,
    listeners: dict[str, CountingListener],
    tmp_path: Path,
) -> None:
    # Only this processor is in the group while it runs, so it gets every request.
    processors.stop_all()
    processors.start(MEDIA_FETCH_ALLOWED_NETWORKS="127.0.0.1/32")
    try:
        targets = [
            listeners["127.0.0.2"].url(),
            listeners["::1"].url(),
            f"http://0.0.0.0:{listeners['127.0.0.1'].port}/a.mp4",
        ]
        redirects = [host.url(f"redirect?to={quote(t, safe='')}") for t in targets]
        refused = [submit(client, url) for url in targets + redirects]

        segment = tmp_path / "local.ts"
        subprocess_clip = make_clip(tmp_path / "local.mp4", 1.0)
        segment.write_bytes(subprocess_clip.read_bytes())
        playlist = f"playlist-{uuid.uuid4()}.m3u8"
        (host.directory / playlist).write_text(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
            f"#EXTINF:1.0,\nfile:{segment}\n"
            f"#EXTINF:1.0,\n{listeners['127.0.0.2'].url('seg.ts')}\n"
            "#EXT-X-ENDLIST\n"
        )
        hls = submit(client, host.url(playlist))

        for analysis_id in refused:
            done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=60)
            assert done["status"] == "failed"
            assert done["error_message"].startswith("fetch_refused: "), done["error_message"]
        done = wait_for_status(client, hls, {"completed", "failed"}, timeout=60)
        assert done["status"] == "failed"
        assert done["error_message"].startswith("media_undecodable: ")
        assert host.count("/redirect") >= 3
        assert {name: item.connections for name, item in listeners.items()} == {
            "127.0.0.2": 0,
            "::1": 0,
            "127.0.0.1": 0,
        }
    finally:
        processors.stop_all()
