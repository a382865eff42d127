"""Follow the Media Analysis event log like any other team would: a plain Kafka
client (aiokafka) and the CloudEvents SDK, nothing from this project.

    python examples/subscriber.py --bootstrap 127.0.0.1:9092 [--analysis ID] [--seconds 60]

Prints one JSON line per event: its CloudEvents attributes and data. With
--analysis it stops after that analysis's completed, failed or deleted event.
A managed cluster takes the same security options as the services
(--security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512 --sasl-username U
--ssl-cafile ca.pem, the password in KAFKA_SASL_PASSWORD).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.helpers import create_ssl_context
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

TOPIC = "media-analysis.events"
TERMINAL = ("completed", "failed", "deleted")


def security(args: argparse.Namespace) -> dict[str, Any]:
    """aiokafka's options for TLS and SASL (none for PLAINTEXT)."""
    options: dict[str, Any] = {"security_protocol": args.security_protocol}
    if args.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=args.ssl_cafile)
    if args.security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = args.sasl_mechanism
        options["sasl_plain_username"] = args.sasl_username
        options["sasl_plain_password"] = os.environ.get("KAFKA_SASL_PASSWORD", "")
    return options


async def follow(
    bootstrap: str, analysis: str | None, seconds: float, options: dict[str, Any]
) -> int:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        **options,
        group_id=f"example-subscriber-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = from_binary_event(
                        KafkaMessage(
                            headers=dict(record.headers), key=record.key, value=record.value
                        )
                    )
                    if analysis and event.get_subject() != analysis:
                        continue
                    seen += 1
                    print(
                        json.dumps(
                            {
                                "specversion": event.get_specversion(),
                                "id": event.get_id(),
                                "source": event.get_source(),
                                "type": event.get_type(),
                                "subject": event.get_subject(),
                                "time": event.get_time().isoformat() if event.get_time() else None,
                                "schemaversion": event.get_extension("schemaversion"),
                                "data": event.get_data(),
                            }
                        ),
                        flush=True,
                    )
                    if analysis and event.get_type().rsplit(".", 1)[-1] in TERMINAL:
                        return seen
    finally:
        await consumer.stop()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--analysis", help="only this analysis id; stop at its last event")
    parser.add_argument("--seconds", type=float, default=60.0, help="give up after this long")
    parser.add_argument(
        "--security-protocol",
        default="PLAINTEXT",
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
    )
    parser.add_argument("--sasl-mechanism", default="SCRAM-SHA-512")
    parser.add_argument("--sasl-username", help="the password is read from KAFKA_SASL_PASSWORD")
    parser.add_argument("--ssl-cafile", help="CA certificates (default: the system's)")
    args = parser.parse_args()
    asyncio.run(follow(args.bootstrap, args.analysis, args.seconds, security(args)))


if __name__ == "__main__":
    main()
