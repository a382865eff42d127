"""Follow the Media Analysis event log like any other team would: a plain Kafka
client (aiokafka) and the CloudEvents SDK, nothing from this project.

    python examples/subscriber.py --bootstrap 127.0.0.1:9092 [--analysis ID] [--seconds 60]

Prints one JSON line per event: its CloudEvents attributes and data. With
--analysis it stops after that analysis's completed, failed or deleted event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

TOPIC = "media-analysis.events"
TERMINAL = ("completed", "failed", "deleted")


async def follow(bootstrap: str, analysis: str | None, seconds: float) -> int:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
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
    args = parser.parse_args()
    asyncio.run(follow(args.bootstrap, args.analysis, args.seconds))


if __name__ == "__main__":
    main()
