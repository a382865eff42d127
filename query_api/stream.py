"""Live status streams: one analysis's status (``GET /api/media/{id}/stream``) or
all the caller's (``GET /api/media/stream``) as server-sent events.

One :class:`StreamHub` per API process LISTENs for the projector's change notices
(``read_model.changes``) on a connection of its own, reads each changed analysis
that somebody follows once per notice (its row and the position of its latest
event, in one statement) and hands the state to every follower's
:class:`Mailbox`. A mailbox keeps only the latest undelivered state of each
analysis, so a client that reads slowly holds one state per analysis, never a
queue. When the listening connection drops, the hub connects again and re-reads
everything followed: changes made meanwhile were never announced.

An event's ``id`` is the log position (``<partition>-<offset>``) of the latest
event applied to the analysis; a client that resumes with ``Last-Event-ID`` gets
only states of later positions.

One module above the usual size: the hub, the mailboxes and the two endpoints'
event generators share the position and resume rules, kept together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from sse_starlette import EventSourceResponse, ServerSentEvent

from infra.database import DRIVER_ERRORS
from read_model.changes import CHANGES_CHANNEL, read_changes_notice
from read_model.errors import ReadModelUnavailable
from read_model.status import STATUS_COLUMNS, TABLE, status_from_row

log = logging.getLogger(__name__)

Position = tuple[int, int]
"""(partition, offset) of an event in the log."""

TERMINAL = frozenset({"completed", "failed", "deleted"})
LISTENER_APPLICATION = "media-analysis status streams"
"""``application_name`` of the hub's listening connection (``pg_stat_activity``)."""
LISTENER_PING_SECONDS = 15.0
"""How often an idle listening connection is checked (a dead peer sends no FIN)."""
MAX_RETRY_SECONDS = 5.0
READ_CHUNK = 1000
"""Changed analyses read per statement."""
SEND_TIMEOUT_SECONDS = 60.0
"""A client that takes no bytes for this long is disconnected."""

_SELECT = (
    f"SELECT {', '.join(f'r.{c}' for c in STATUS_COLUMNS)}, "  # noqa: S608 (constants)
    'r.created_by AS tenant, e.partition, e."offset", e.type '
    f'FROM {TABLE} r LEFT JOIN LATERAL (SELECT partition, "offset", type FROM analysis_event '
    'WHERE analysis_id = r.id ORDER BY partition DESC, "offset" DESC LIMIT 1) e ON true '
)
_ONE = _SELECT + "WHERE r.id = $1"
_ONE_FOR_TENANT = _ONE + " AND r.created_by = $2"
_MANY = _SELECT + "WHERE r.id = ANY($1::uuid[])"
_IN_FLIGHT = _SELECT + "WHERE r.status IN ('pending', 'processing') "
_IN_FLIGHT_ALL = _IN_FLIGHT + "ORDER BY r.created_at DESC LIMIT $1"
_IN_FLIGHT_FOR_TENANT = _IN_FLIGHT + "AND r.created_by = $2 ORDER BY r.created_at DESC LIMIT $1"

RESYNC_EVENT = ServerSentEvent(
    data='{"detail": "Changes may have been missed; re-read the analyses you show."}',
    event="resync",
).encode()
"""Sent on ``GET /api/media/stream`` when the hub lost track (listener reconnected,
too many changes for one notice, a client too slow for its bound); the in-flight
analyses and ``ready`` follow it again."""


def parse_position(last_event_id: str | None) -> Position | None:
    """The position a ``Last-Event-ID`` names; None for none or one not of ours."""
    found = re.fullmatch(r"(\d{1,9})-(\d{1,19})", (last_event_id or "").strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def newer(position: Position | None, than: Position | None) -> bool:
    """Whether a state at ``position`` is news to a client that has seen ``than``."""
    if position is None or than is None or position[0] != than[0]:
        return True  # no position to compare (never expected): send rather than lose
    return position[1] > than[1]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One analysis's status as read, with its encoded event (built once, sent to all)."""

    analysis_id: UUID
    tenant: UUID | None
    status: str
    position: Position | None
    event: bytes

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Snapshot:
        values: dict[str, Any] = dict(row)
        position = (values["partition"], values["offset"]) if values["type"] else None
        body = status_from_row(values).model_dump_json()
        event = ServerSentEvent(
            data=body,
            event=values["type"] or "status",
            id=f"{position[0]}-{position[1]}" if position else None,
        ).encode()
        return cls(values["id"], values["tenant"], values["status"], position, event)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class Mailbox:
    """What one stream has yet to send: the latest state of each analysis, at most
    ``limit`` analyses; past that it drops them and asks for a resync."""

    def __init__(self, limit: int, seen: dict[UUID, Position] | None = None) -> None:
        self._limit = limit
        self._pending: dict[UUID, Snapshot] = {}
        self._sent: dict[UUID, Position] = dict(seen or {})
        self._resync = False
        self._ready = asyncio.Event()

    def put(self, snap: Snapshot) -> None:
        queued = self._pending.get(snap.analysis_id)
        last = queued.position if queued is not None else self._sent.get(snap.analysis_id)
        if not newer(snap.position, last):
            return
        if queued is None and len(self._pending) >= self._limit:
            self.resync()
            return
        self._pending[snap.analysis_id] = snap
        self._ready.set()

    def resync(self) -> None:
        """Forget what was sent and pending; the next take says so."""
        self._pending.clear()
        self._sent.clear()
        self._resync = True
        self._ready.set()

    async def take(self) -> tuple[bool, list[Snapshot]]:
        """Once there is news: (True, []) when a resync was asked (what was put
        since stays pending), else (False, the pending states)."""
        while not (self._pending or self._resync):
            self._ready.clear()
            await self._ready.wait()
        if self._resync:
            self._resync = False
            return True, []
        return False, self.drain()

    def drain(self) -> list[Snapshot]:
        """The pending states, now marked sent."""
        taken = list(self._pending.values())
        self._pending.clear()
        for snap in taken:
            if snap.position is not None:
                self._sent[snap.analysis_id] = snap.position
        if len(self._sent) > 4 * self._limit:  # keep the newest half: a repeat, never a loss
            for aid in list(self._sent)[: len(self._sent) // 2]:
                del self._sent[aid]
        return taken


class StreamHub:
    """The process's one listener and its followers (see the module docstring)."""

    def __init__(
        self, pool: asyncpg.Pool, dsn: str, *, heartbeat: float, max_open: int, all_max: int
    ) -> None:
        self._pool, self._dsn = pool, dsn
        self.heartbeat, self.max_open, self.all_max = heartbeat, max_open, all_max
        self._one: dict[UUID, set[Mailbox]] = {}
        self._all: dict[UUID | None, set[Mailbox]] = {}
        self._wanted: set[UUID] = set()
        self._resync = False
        self._wake = asyncio.Event()
        self.listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.open = 0
        """Streams open now, of both kinds."""

    def full(self) -> bool:
        return self.open >= self.max_open

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="stream-listener"),
            asyncio.create_task(self._deliver(), name="stream-delivery"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _fetch(self, sql: str, *args: Any) -> list[Snapshot]:
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(sql, *args)
        except DRIVER_ERRORS as exc:
            raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc
        return [Snapshot.from_row(row) for row in rows]

    async def read(self, analysis_id: UUID, tenant: UUID | None = None) -> Snapshot | None:
        """The analysis as its stream shows it; None when unknown or another tenant's."""
        found = await (
            self._fetch(_ONE, analysis_id)
            if tenant is None
            else self._fetch(_ONE_FOR_TENANT, analysis_id, tenant)
        )
        return found[0] if found else None

    async def in_flight(self, tenant: UUID | None) -> list[Snapshot]:
        """The newest pending or processing analyses (of ``tenant``), oldest first."""
        found = await (
            self._fetch(_IN_FLIGHT_ALL, self.all_max)
            if tenant is None
            else self._fetch(_IN_FLIGHT_FOR_TENANT, self.all_max, tenant)
        )
        return found[::-1]

    async def follow_one(self, analysis_id: UUID, seen: Position | None) -> AsyncIterator[bytes]:
        """The events of one analysis until a terminal state; the caller checked access."""
        mailbox = Mailbox(1, {analysis_id: seen} if seen else None)
        self._one.setdefault(analysis_id, set()).add(mailbox)
        self.open += 1
        try:
            # Read after subscribing: a change committed from here on is announced.
            self._wanted.add(analysis_id)
            self._wake.set()
            while True:
                _, snaps = await mailbox.take()
                for snap in snaps:
                    yield snap.event
                    if snap.terminal:
                        return
        finally:
            self.open -= 1
            _discard(self._one, analysis_id, mailbox)

    async def follow_all(self, tenant: UUID | None) -> AsyncIterator[bytes]:
        """The in-flight analyses (of ``tenant``) and ``ready``, then every change,
        until the client leaves; after a ``resync``, the in-flight ones again."""
        mailbox = Mailbox(2 * self.all_max)  # room for a snapshot beside the changes
        self._all.setdefault(tenant, set()).add(mailbox)
        self.open += 1
        try:
            for chunk in await self._snapshot(mailbox, tenant):
                yield chunk
            while True:
                resync, snaps = await mailbox.take()
                if resync:
                    yield RESYNC_EVENT
                    snaps = []
                    for chunk in await self._snapshot(mailbox, tenant):
                        yield chunk
                for snap in snaps:
                    yield snap.event
        finally:
            self.open -= 1
            _discard(self._all, tenant, mailbox)

    async def _snapshot(self, mailbox: Mailbox, tenant: UUID | None) -> list[bytes]:
        """The in-flight analyses merged with the changes pending (the newest state
        of each), then ``ready``."""
        delay = 0.1
        while True:
            try:
                current = await self.in_flight(tenant)
                break
            except ReadModelUnavailable as exc:
                log.warning("status stream: cannot read the in-flight analyses: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
        for snap in current:
            mailbox.put(snap)
        snaps = mailbox.drain()
        ready = ServerSentEvent(data=f'{{"sent": {len(snaps)}}}', event="ready").encode()
        return [*(snap.event for snap in snaps), ready]

    def response(self, events: AsyncIterator[bytes]) -> EventSourceResponse:
        return EventSourceResponse(events, ping=self.heartbeat, send_timeout=SEND_TIMEOUT_SECONDS)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        changes = read_changes_notice(payload)
        if changes is None:
            self._resync = True
        else:
            everyone = None in self._all
            for change in changes:
                aid = change.analysis_id
                if aid in self._one or everyone or change.tenant in self._all:
                    self._wanted.add(aid)
        if self._wanted or self._resync:
            self._wake.set()

    async def _deliver(self) -> None:
        """Read what the notices named, once per round whoever follows it, and hand it out."""
        delay = 0.1
        while True:
            await self._wake.wait()
            self._wake.clear()
            resync, self._resync = self._resync, False
            wanted, self._wanted = self._wanted, set()
            ids = list((set(self._one) if resync else set()) | wanted)
            try:
                snaps = [
                    snap
                    for start in range(0, len(ids), READ_CHUNK)
                    for snap in await self._fetch(_MANY, ids[start : start + READ_CHUNK])
                ]
            except Exception as exc:  # this task serves every stream: retry, never die
                log.warning("status streams: cannot read changed analyses: %r", exc)
                self._wanted |= wanted
                self._resync |= resync
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
                self._wake.set()
                continue
            delay = 0.1
            for snap in snaps:
                for mailbox in self._followers(snap):
                    mailbox.put(snap)
            if resync:
                for mailboxes in self._all.values():
                    for mailbox in mailboxes:
                        mailbox.resync()

    def _followers(self, snap: Snapshot) -> Iterable[Mailbox]:
        yield from self._one.get(snap.analysis_id, ())
        yield from self._all.get(None, ())  # without access control: everything
        if snap.tenant is not None:
            yield from self._all.get(snap.tenant, ())

    async def _listen(self) -> None:
        """Keep one connection LISTENing; after each (re)connect, re-read what is followed."""
        delay, failures = 0.1, 0
        while True:
            try:
                conn: asyncpg.Connection = await asyncpg.connect(
                    self._dsn, timeout=5, server_settings={"application_name": LISTENER_APPLICATION}
                )
            except (*DRIVER_ERRORS, asyncpg.ClientConfigurationError) as exc:
                if not failures:
                    log.warning("status streams: cannot listen for changes: %s", exc)
                failures += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
                continue
            try:
                await self._listen_on(conn)
            except DRIVER_ERRORS as exc:
                log.warning("status streams: the listening connection failed: %s", exc)
            finally:
                self.listening.clear()
                conn.terminate()
            delay, failures = 0.1, 0

    async def _listen_on(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(CHANGES_CHANNEL, self._notified)
        self._resync = True  # whatever changed while nobody listened
        self._wake.set()
        self.listening.set()
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), LISTENER_PING_SECONDS)
                return
            await asyncio.wait_for(conn.fetchval("SELECT 1"), 5)


def _discard(followers: dict[Any, set[Mailbox]], key: Any, mailbox: Mailbox) -> None:
    mailboxes = followers.get(key)
    if mailboxes is not None:
        mailboxes.discard(mailbox)
        if not mailboxes:
            del followers[key]
