"""The FastStream Kafka broker every service builds, with the guarantees the
event log needs: acks=all and an idempotent producer, no topic auto-creation,
and per-message logs at DEBUG so INFO stays readable; TLS and SASL as configured.

``typed_bodies``: for consumers whose decoders build the handlers' typed, validated
events themselves; FastDepends hands them over as they are instead of validating
every event of a batch again."""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from infra.kafka_security import ssl_context
from infra.logs import route_library_loggers
from infra.settings import Settings

BROKER_LOGGER = logging.getLogger("faststream.kafka")

SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def broker_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's form of the Kafka security settings (``kafka_connection``'s twin)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context)
    # The settings refuse SASL_* without a mechanism and credentials.
    assert settings.kafka_sasl_mechanism is not None
    assert settings.kafka_sasl_password is not None
    return SASL[settings.kafka_sasl_mechanism](
        settings.kafka_sasl_username or "",
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=context is not None,
    )


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
        security=broker_security(settings),
        log_level=logging.DEBUG,
        **options,
    )
