"""One analysis is one trace: the POST, the processor's run and stages and the
projector's apply, exported over OTLP/HTTP to a receiver on 127.0.0.1, with the
trace context on every event as Kafka's console consumer shows it.

The session's processor and projector are stopped for the module, so the traced
ones here are the only group members; fresh untraced ones take their place after.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner

from events import EVENTS_TOPIC
from tests.conftest import (
    MediaServer,
    Service,
    analyse_clip,
    free_port,
    wait_ready,
    wait_until,
)
from tests.kafka_console import console_consume
from tests.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.stack

POST_SPAN = "POST /api/media/analyze"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def traced(
    services: dict[str, Service], prepared: dict[str, str], receiver: OtlpReceiver
) -> Iterator[tuple[str, dict[str, str]]]:
    """A traced API (on a port of its own), processor and projector."""
    env = {
        **prepared,
        "API_PORT": str(free_port()),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within moments, not the default 5 s
        "NO_PROXY": "127.0.0.1",
    }
    for name in ("processor", "projector"):
        services[name].stop()
    own = [Service(f"traced-{name}", name, env) for name in ("api", "processor", "projector")]
    try:
        base_url = f"http://127.0.0.1:{env['API_PORT']}"
        wait_ready(own, base_url)
        yield base_url, env
    finally:
        for service in own:
            service.stop()
        for name in ("projector", "processor"):
            services[name] = Service(name, name, prepared)


def test_one_analysis_is_one_trace_across_the_services(
    traced: tuple[str, dict[str, str]], receiver: OtlpReceiver, media_server: MediaServer
) -> None:
    base_url, env = traced
    with httpx.Client(base_url=base_url, timeout=30) as client:
        analysis_id, status = analyse_clip(client, media_server.url("clip.mp4"), timeout=120)
    assert status["status"] == "completed", status
    stages = set(status["results"]["stages"])

    def posted() -> list[str]:
        return [
            s.trace_id
            for s in receiver.named(POST_SPAN)
            if s.attributes.get("url.path") == "/api/media/analyze"
            and any(
                t.attributes.get("media_analysis.analysis_id") == analysis_id
                for t in receiver.trace(s.trace_id)
            )
        ]

    # The projector's spans of the last events are exported a moment after they commit.
    def whole_trace() -> bool:
        traces = posted()
        if len(traces) != 1:
            return False
        names = {s.name for s in receiver.trace(traces[0])}
        return {"process analysis", "projector apply", *(f"stage {n}" for n in stages)} <= names

    wait_until(whole_trace, timeout=30, interval=0.2, what="the analysis's whole trace")
    (trace_id,) = posted()
    spans = receiver.trace(trace_id)
    by_name = {s.name: s for s in spans}
    post, run = by_name[POST_SPAN], by_name["process analysis"]
    assert post.parent_span_id == ""  # the POST starts the trace
    assert {s.service for s in spans} == {
        "media-analysis-api",
        "media-analysis-processor",
        "media-analysis-projector",
    }
    assert run.parent_span_id == post.span_id  # through AnalysisRequested's ce_traceparent
    assert {s.parent_span_id for s in spans if s.name.startswith("stage ")} == {run.span_id}
    assert {s.attributes["media_analysis.stage"] for s in spans if s.name.startswith("stage ")} == (
        stages
    )
    # The projector applied the request (child of the POST) and the run's events.
    applied = [s for s in spans if s.name == "projector apply"]
    assert {s.parent_span_id for s in applied} == {post.span_id, run.span_id}

    # Kafka's console consumer shows the context on every event of the analysis.
    partitions = int(env["KAFKA_TOPIC_PARTITIONS"])
    partition = DefaultPartitioner()(analysis_id.encode(), list(range(partitions)), None)
    printed = console_consume(env["KAFKA_BOOTSTRAP_SERVERS"], EVENTS_TOPIC, partition)
    lines = [line for line in printed.splitlines() if f"\t{analysis_id}\t" in line]
    assert len(lines) == 2 + 1 + len(stages)  # requested, started, progressed per stage, completed
    parents = []
    for line in lines:
        headers = dict(h.split(":", 1) for h in line.split("\t", 1)[0].split(","))
        version, trace, parent, flags = headers["ce_traceparent"].split("-")
        assert (version, trace) == ("00", trace_id)
        assert int(flags, 16) & 1  # sampled
        parents.append(parent)
    assert parents == [post.span_id] + [run.span_id] * (len(lines) - 1)
