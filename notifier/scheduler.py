"""The notifier's delivery loop: claim due deliveries, send each in a task of its
own (at most ``concurrency`` at once, so a slow receiver holds one slot and no
other delivery), record every attempt and schedule the next.

Due means ``next_attempt_at`` has passed and, for a first attempt, that the
projection has applied the delivery's event: the body is then the analysis's
status as the status endpoint shows it after that event (read from the same
table through ``read_model.status``), kept with the delivery so that every
retry sends and signs the same bytes. The loop wakes when the projector
announces new positions (``read_model.watermark.PositionNotices``), when the
consumer recorded deliveries, when a slot frees, and at least every
``poll_seconds`` for retries that came due.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from infra.database import DRIVER_ERRORS
from notifier import store
from notifier.sender import MAX_REDIRECTS, Sent, WebhookSender
from read_model.status import status_from_row
from read_model.watermark import PositionNotices
from read_model.webhooks import tenant_secret

log = logging.getLogger(__name__)

JITTER = 0.2
"""Each retry delay is the schedule's, give or take this fraction (at random), so
deliveries that failed together do not all come back at the same moment."""
MAX_PAUSE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    schedule: Sequence[float]
    """Seconds before each retry; after the last retry fails, the delivery fails."""
    timeout_seconds: float
    concurrency: int
    poll_seconds: float
    secret: str | None
    """The signing secret of analyses whose tenant has none of its own."""

    @property
    def lease_seconds(self) -> float:
        """How long a claimed delivery is this notifier's: longer than any attempt."""
        return self.timeout_seconds * (MAX_REDIRECTS + 1) + 30

    def next_attempt(self, attempts_before: int, now: datetime) -> datetime | None:
        """When to try again after attempt number ``attempts_before + 1`` failed."""
        if attempts_before >= len(self.schedule):
            return None
        delay = self.schedule[attempts_before] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
        return now + timedelta(seconds=delay)


def webhook_body(event_type: str, event_id: str, status_json: str) -> str:
    """The JSON a receiver gets: the event's type and id, and the status as ``data``."""
    return (
        f'{{"type":{json.dumps(event_type)},"event_id":{json.dumps(event_id)},'
        f'"timestamp":{json.dumps(datetime.now(UTC).isoformat())},"data":{status_json}}}'
    )


class AttemptLog:
    """Records attempts in batches: the attempts that end while a write is under
    way go together in the next one (one transaction), instead of one each."""

    def __init__(self, pool: Callable[[], Awaitable[asyncpg.Pool]]) -> None:
        self._pool = pool
        self._waiting: list[tuple[store.Due, store.AttemptOutcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, due: store.Due, outcome: store.AttemptOutcome) -> None:
        """Return once the attempt is stored (raise what storing it raised)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((due, outcome, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="webhook-attempts")
        await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await store.record_attempts(await self._pool(), [(d, o) for d, o, _ in batch])
            except Exception as exc:  # handed to every attempt of the batch
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)


class Scheduler:
    """Sends due deliveries until cancelled."""

    def __init__(
        self,
        pool: Callable[[], Awaitable[asyncpg.Pool]],
        sender: WebhookSender,
        policy: DeliveryPolicy,
        listen_dsn: str | None,
    ) -> None:
        self._pool = pool
        self._sender = sender
        self._policy = policy
        self._attempts = AttemptLog(pool)
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._notices = (
            PositionNotices(listen_dsn, lambda _positions: self.wake())
            if listen_dsn is not None
            else None
        )

    def wake(self) -> None:
        """Look for due deliveries now (new ones were recorded, or may be due)."""
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        try:
            while True:
                if self._notices is not None:
                    await self._notices.listening()
                self._wake.clear()
                free = self._policy.concurrency - len(self._in_flight)
                try:
                    claimed = await self._claim(free) if free > 0 else []
                    claimed = await self._with_bodies(claimed)
                    failures = 0
                except DRIVER_ERRORS as exc:
                    if not failures:
                        log.warning("notifier: cannot claim deliveries (%s); retrying", exc)
                    failures += 1
                    claimed = []
                for due in claimed:
                    task = asyncio.create_task(self._deliver(due), name=f"webhook-{due.id}")
                    self._in_flight.add(task)
                    task.add_done_callback(self._finished)
                if len(claimed) == free and free > 0:
                    continue  # perhaps more are due
                pause = min(self._policy.poll_seconds * 2**failures, MAX_PAUSE_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(pause, 0.01))
        finally:
            for task in self._in_flight:
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)
            if self._notices is not None:
                await self._notices.close()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # The lease runs out and the delivery is claimed again: nothing is lost.
            log.warning("notifier: a delivery was interrupted (%r); it comes due again", exc)
        self.wake()

    async def _claim(self, limit: int) -> list[store.Due]:
        return await store.claim(await self._pool(), limit, self._policy.lease_seconds)

    async def _with_bodies(self, claimed: list[store.Due]) -> list[store.Due]:
        """First attempts get their body: the status as the projection shows it now
        (it has applied the event: see ``store.claim``), kept for the retries.
        Those whose analysis is gone (deleted) are cancelled: nothing is sent."""
        first = [due for due in claimed if due.body is None]
        if not first:
            return claimed
        pool = await self._pool()
        rows = await store.status_rows(pool, [due.analysis_id for due in first])
        bodies: dict[UUID, str] = {}
        for due in first:
            row = rows.get(due.analysis_id)
            if row is None or row["status"] == "deleted":
                await store.cancel(pool, due)
                continue
            status_json = status_from_row(row).model_dump_json()
            bodies[due.id] = webhook_body(due.event_type, due.event_id, status_json)
        kept = await store.save_bodies(pool, bodies) if bodies else {}
        return [
            due if due.body is not None else replace(due, body=kept[due.id])
            for due in claimed
            if due.body is not None or due.id in kept
        ]

    async def _deliver(self, due: store.Due) -> None:
        assert due.body is not None, "claimed deliveries have their body"
        pool = await self._pool()
        try:
            secret = await self._secret(pool, due)
            if secret is None:
                now = datetime.now(UTC)
                sent = Sent(now, due.url, None, "no signing secret: set WEBHOOK_SECRET", 0)
            else:
                sent = await self._sender.send(due.url, str(due.id), due.body, secret)
            final = sent.delivered or sent.refused
            next_at = None if final else self._policy.next_attempt(due.attempts, sent.started_at)
            outcome = store.AttemptOutcome(
                sent.started_at, sent.url, sent.status_code, sent.error,
                sent.duration_ms, sent.delivered, next_at,
            )  # fmt: skip
            await self._attempts.record(due, outcome)
        except DRIVER_ERRORS as exc:
            log.warning("notifier: delivery %s not recorded (%s); it comes due again", due.id, exc)

    async def _secret(self, pool: asyncpg.Pool, due: store.Due) -> str | None:
        if due.tenant is not None:
            async with pool.acquire() as conn:
                own = await tenant_secret(conn, due.tenant)
            if own is not None:
                return own
        return self._policy.secret
