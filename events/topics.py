"""Kafka topic names shared by every producer and consumer."""

from __future__ import annotations

EVENTS_TOPIC = "media-analysis.events"
"""Every analysis event, keyed by analysis_id, kept forever (retention.ms=-1)."""

DEAD_LETTER_TOPIC = "media-analysis.events.dlq"
"""Records a consumer could not decode, with the reason in ``x-dlq-*`` headers."""
