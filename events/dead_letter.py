"""Headers of a record copied to the dead-letter topic.

A consumer that cannot decode a record copies it, value and headers unchanged,
to ``media-analysis.events.dlq`` and adds where it came from and why.
"""

from __future__ import annotations

from collections.abc import Iterable


def dead_letter_headers(
    original: Iterable[tuple[str, bytes]] | None,
    *,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    consumer: str,
) -> dict[str, str]:
    """The original headers plus ``x-dlq-*``: reason, topic, partition, offset, consumer."""
    headers = {k: v.decode("utf-8", "replace") for k, v in (original or ())}
    headers.update(
        {
            "x-dlq-reason": reason[:1000],
            "x-dlq-topic": topic,
            "x-dlq-partition": str(partition),
            "x-dlq-offset": str(offset),
            "x-dlq-consumer": consumer,
        }
    )
    return headers
