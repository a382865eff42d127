"""FastStream entrypoint of the notifier: consumer group ``media-analysis-notifier``.

Each batch's webhook subscriptions (AnalysisRequested with a ``webhook_url``),
deliveries (a subscribed completed, failed or progressed event) and
cancellations (AnalysisDeleted) are written to PostgreSQL in one transaction
(``notifier.store``) *before* the batch's offsets are committed (ack policy
MANUAL, committed through ``ConsumerControl``): a notifier killed at any point
reads the batch again, and the idempotent inserts record nothing twice.
A database outage is waited out in place. Undecodable records are skipped: the
processors and the projector already send them to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from events import EVENTS_TOPIC
from infra.consumer_control import ConsumerControl
from infra.database import DRIVER_ERRORS
from infra.record_parser import Consumed, Poison, decode_events, tolerant_parser
from infra.supervision import Failures
from notifier import store

log = logging.getLogger(__name__)

GROUP_ID = "media-analysis-notifier"
MAX_RECORDS = 500
BATCH_TIMEOUT_MS = 10
FETCH_MIN_BYTES = 64 * 1024
FETCH_MAX_WAIT_MS = 25
MAX_BACKOFF_SECONDS = 5.0


async def _recorded(pool: Callable[[], Awaitable[asyncpg.Pool]], items: list[Consumed]) -> None:
    delay = 0.1
    while True:
        try:
            async with (await pool()).acquire() as conn:
                await store.record(conn, items)
            return
        except DRIVER_ERRORS as exc:
            log.warning("notifier: cannot record a batch (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)


def register(
    broker: KafkaBroker,
    pool: Callable[[], Awaitable[asyncpg.Pool]],
    recorded: Callable[[], None],
    failures: Failures,
    *,
    group_id: str = GROUP_ID,
) -> None:
    """Declare the notifier's subscriber; ``recorded`` is told when deliveries may be new."""
    subscriber = broker.subscriber(
        EVENTS_TOPIC,
        group_id=group_id,
        auto_offset_reset="earliest",
        batch=True,
        max_records=MAX_RECORDS,
        batch_timeout_ms=BATCH_TIMEOUT_MS,
        ack_policy=AckPolicy.MANUAL,
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        title="notifier",
        description="Records a webhook delivery for every subscribed event of an analysis.",
    )
    consumer = ConsumerControl(subscriber, EVENTS_TOPIC)

    @subscriber(parser=tolerant_parser, decoder=decode_events)
    async def notify(batch: list[Consumed | Poison]) -> None:
        async with failures.guard("notifier"):
            wanted = [i for i in batch if isinstance(i, Consumed) and store.relevant(i)]
            if wanted:
                await _recorded(pool, wanted)
                recorded()
            positions: dict[int, int] = {}
            for item in batch:
                positions[item.partition] = max(positions.get(item.partition, 0), item.offset + 1)
            # Refused during a rebalance: the next owner reads these records again.
            await consumer.commit(positions)
