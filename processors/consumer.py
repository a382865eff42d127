"""FastStream entrypoint of the processors: consume AnalysisRequested events
from the log and run each analysis, recording its events back to the log.

The record is acknowledged only after the analysis's outcome is recorded
(``NACK_ON_ERROR``: a failure to record puts the record back), so a crashed
processor loses no request: the group re-delivers it to a live member.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from events import (
    EVENTS_TOPIC,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisRequested,
    EventDecodeError,
    caused_by,
    decode,
    encode,
)
from media_analysis.dead_letter import send_to_dead_letter
from processors.pipeline import PipelineConfig, run_analysis

log = logging.getLogger(__name__)

GROUP_ID = "media-analysis-processors"
SOURCE = "/media-analysis/processor"


def register(broker: KafkaBroker, config: PipelineConfig, *, deadline_seconds: float) -> None:
    """Declare the processors' subscriber on ``broker``."""

    @broker.subscriber(
        EVENTS_TOPIC,
        group_id=GROUP_ID,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_interval_ms=int(deadline_seconds * 1000) + 60_000,
        title="processor",
        description="Analyses the media of every AnalysisRequested event.",
    )
    async def process(body: Any, message: KafkaMessage) -> None:
        raw = message.raw_message
        assert not isinstance(raw, tuple)  # a single-record subscriber
        try:
            envelope = decode(raw.value, raw.headers)
        except EventDecodeError as exc:
            await send_to_dead_letter(broker, raw, f"{exc.reason}: {exc}", GROUP_ID)
            return
        if not isinstance(envelope.data, AnalysisRequested):
            return

        async def emit(event: AnalysisEvent) -> None:
            record = encode(caused_by(envelope, event, source=SOURCE))
            await broker.publish(
                record.value, topic=EVENTS_TOPIC, key=record.key, headers=record.header_dict()
            )

        try:
            async with asyncio.timeout(deadline_seconds):
                await run_analysis(envelope.data, emit, config)
        except TimeoutError:
            await emit(
                AnalysisFailed(
                    analysis_id=envelope.data.analysis_id,
                    error_code="deadline_exceeded",
                    error_message=f"analysis took longer than {deadline_seconds:g}s",
                    retryable=True,
                )
            )
