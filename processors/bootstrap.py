"""Composition root of the processors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaBroker

from events import EVENTS_TOPIC, AnalysisEvent, Envelope, caused_by, encode
from infra import tracing
from infra.artifacts import build_artifact_store
from infra.consumer_control import ConsumerControl
from infra.consumer_health import ConsumerHealth
from infra.database import asyncpg_dsn, create_pool
from infra.kafka import build_kafka_broker
from infra.kafka_security import kafka_connection
from infra.ops_server import OpsEndpoints
from infra.readiness import KafkaCheck
from infra.settings import Settings
from infra.supervision import Failures
from processors.consumer import register
from processors.fetch import MediaFetcher
from processors.ledger import ProjectionLedger
from processors.metrics import count_outcome
from processors.partition_control import PartitionControl
from processors.pipeline import PipelineConfig, run_analysis
from processors.retry import RetryPolicy
from processors.runtime import AnalysisRuntime
from processors.stages.context import StageSettings
from read_model.positions import LogEnds

SOURCE = "/media-analysis/processor"
PRODUCE_LINGER_MS = 5
STUCK_MARGIN_SECONDS = 30

Close = Callable[[], Awaitable[None]]
"""Releases what a composition root built besides its broker, once the broker has stopped."""


def build_broker(
    settings: Settings, failures: Failures, ops: OpsEndpoints | None = None
) -> tuple[KafkaBroker, Close]:
    """A broker whose subscribers run analyses and whose producer records their events,
    and what closes the rest it built (the ledger's connections, the log-end clients,
    the downloads' connections) once the broker has stopped. What its consumers
    cannot handle goes to ``failures``; its readiness checks and lag go to ``ops``."""
    # Linger 5 ms: the events of concurrent analyses share produce requests, a
    # fraction of the processor's and the broker's CPU under load; an analysis's
    # events are seconds apart, so 5 ms more is nothing anyone sees.
    broker = build_kafka_broker(
        settings,
        f"media-analysis-processor-{settings.processor_id}",
        linger_ms=PRODUCE_LINGER_MS,
        typed_bodies=True,
    )
    artifacts = build_artifact_store(settings)
    fetcher = MediaFetcher(
        settings.media_fetch_allowed_networks,
        max_bytes=settings.media_fetch_max_bytes,
        timeout_seconds=settings.media_fetch_timeout_seconds,
    )
    config = PipelineConfig(
        processor_id=settings.processor_id,
        work_dir=settings.work_dir.resolve(),
        fetcher=fetcher,
        stages=StageSettings.from_settings(settings, artifacts),
        progress_interval_seconds=settings.progress_interval_seconds,
    )

    async def publish(cause: Envelope, event: AnalysisEvent) -> None:
        # In the trace of the run that produced it (the runtime's span), if traced.
        record = encode(tracing.stamped(caused_by(cause, event, source=SOURCE)))
        await broker.publish(
            record.value, topic=EVENTS_TOPIC, key=record.key, headers=record.header_dict()
        )
        count_outcome(event)
        health.advanced()

    # A connection per analysis slot, so no read waits for another's and none is
    # opened and closed per read, and one for the watermark's polls (rare: it
    # listens for the projector's notices).
    ledger = ProjectionLedger(
        lambda: create_pool(
            settings, max_size=settings.processor_concurrency + 1, name="processor_ledger"
        ),
        asyncpg_dsn(settings.database_url),
    )
    ends = LogEnds(kafka_connection(settings))

    async def close() -> None:
        await ledger.close()
        await ends.close()
        await fetcher.aclose()

    # The subscriber is declared with the runtime that needs its consumer: the
    # holder is filled in once it exists, and the consumer once it starts.
    subscriber = _Subscriber()
    control = ConsumerControl(subscriber, EVENTS_TOPIC)
    runtime = AnalysisRuntime(
        run=run_analysis,
        pipeline_config=config,
        publish=publish,
        ledger=ledger,
        partitions=PartitionControl(control, ends, failures),
        concurrency=settings.processor_concurrency,
        deadline_seconds=settings.analysis_deadline_seconds,
        deadline_per_media_second=settings.analysis_deadline_per_media_second,
        deadline_max_seconds=settings.analysis_deadline_max_seconds,
        retry=RetryPolicy(
            max_attempts=settings.analysis_max_attempts,
            base_seconds=settings.analysis_retry_backoff_seconds,
            max_seconds=settings.analysis_retry_backoff_max_seconds,
        ),
        remove_artifacts=artifacts.remove_all,
    )
    subscriber.declared = register(broker, runtime, failures)
    # Every analysis publishes an event at least once a run (its start, or its
    # outcome once the deadline passed) and waits at most the backoff between runs.
    health = ConsumerHealth(
        "processor",
        control,
        stuck_after=settings.analysis_deadline_seconds
        + settings.analysis_retry_backoff_max_seconds
        + STUCK_MARGIN_SECONDS,
        busy=lambda: runtime.busy,
    )
    if ops is not None:
        kafka_check = KafkaCheck(kafka_connection(settings))
        ops.add_check("kafka", kafka_check)
        ops.on_close(kafka_check.close)
        ops.add_check("postgres", ledger.ping)
        health.register(ops)
    return broker, close


class _Subscriber:
    """The group subscriber, once declared (``ConsumerControl`` reads its consumer)."""

    declared: Any = None

    @property
    def consumer(self) -> Any:
        return None if self.declared is None else self.declared.consumer
