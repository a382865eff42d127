"""The FastStream Kafka broker every service builds, with the guarantees the
event log needs: acks=all and an idempotent producer, no topic auto-creation,
and per-message logs at DEBUG so INFO stays readable."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker

from infra.settings import Settings


def build_kafka_broker(settings: Settings, client_id: str, *, linger_ms: int = 0) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_list,
        acks="all",
        enable_idempotence=True,
        allow_auto_create_topics=False,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        linger_ms=linger_ms,
        client_id=client_id,
        log_level=logging.DEBUG,
    )
