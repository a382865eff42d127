"""TLS and SASL for every Kafka client, from the ``KAFKA_SECURITY_*``, ``KAFKA_SASL_*``
and ``KAFKA_SSL_*`` settings: the connection options of plain aiokafka clients
here, FastStream's security object in ``infra.kafka`` (the same mapping; a test
holds them equal). Kept apart from ``infra.kafka`` so the query API, which only
reads end offsets, does not load FastStream."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from infra.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (the system's CAs unless KAFKA_SSL_CAFILE
    is set; a client certificate when KAFKA_SSL_CERTFILE is); None otherwise."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
    )
    return context


def kafka_connection(settings: Settings) -> dict[str, Any]:
    """Keyword arguments that connect any aiokafka client (producer, consumer,
    admin) to the configured cluster: the brokers, the protocol and its credentials."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_list,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        assert settings.kafka_sasl_password is not None  # the settings require it
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options
