"""The FastStream Kafka broker every service builds, with the guarantees the
event log needs: acks=all and an idempotent producer, no topic auto-creation,
and per-message logs at DEBUG so INFO stays readable.

``typed_bodies``: for consumers whose decoders build the handlers' typed, validated
events themselves; FastDepends hands them over as they are instead of validating
every event of a batch again."""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker

from infra.logs import route_library_loggers
from infra.settings import Settings

BROKER_LOGGER = logging.getLogger("faststream.kafka")


def build_kafka_broker(
    settings: Settings, client_id: str, *, linger_ms: int = 0, typed_bodies: bool = False
) -> KafkaBroker:
    # No serializer: FastDepends passes handler arguments through unvalidated.
    options: dict[str, Any] = {"serializer": None} if typed_bodies else {}
    # FastStream's loggers print in a format of their own: ours takes their records.
    route_library_loggers()
    return KafkaBroker(
        settings.kafka_bootstrap_list,
        acks="all",
        enable_idempotence=True,
        allow_auto_create_topics=False,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        linger_ms=linger_ms,
        client_id=client_id,
        logger=BROKER_LOGGER,
        log_level=logging.DEBUG,
        **options,
    )
