"""Composition root of the processors."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from media_analysis.artifacts import build_artifact_store
from media_analysis.kafka_broker import build_kafka_broker
from media_analysis.settings import Settings
from processors.consumer import register
from processors.pipeline import PipelineConfig
from processors.stages.context import StageSettings


def build_broker(settings: Settings) -> KafkaBroker:
    """A broker whose subscriber runs analyses and whose producer records their events."""
    broker = build_kafka_broker(settings, f"media-analysis-processor-{settings.processor_id}")
    config = PipelineConfig(
        processor_id=settings.processor_id,
        work_dir=settings.work_dir.resolve(),
        allowed_networks=tuple(settings.media_fetch_allowed_networks),
        max_bytes=settings.media_fetch_max_bytes,
        fetch_timeout_seconds=settings.media_fetch_timeout_seconds,
        stages=StageSettings.from_settings(settings, build_artifact_store(settings)),
    )
    register(broker, config, deadline_seconds=settings.analysis_deadline_seconds)
    return broker
