"""The two database paths, built from settings (never at import time): an async
SQLAlchemy engine (Core) for the projector, its replays and the migrations; plain
asyncpg pools for everything that serves requests (see :func:`create_pool`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from infra import pool_metrics
from infra.settings import Settings

CUSTOM_PLANS = {"plan_cache_mode": "force_custom_plan"}
"""Server settings for connections whose statements must be planned with their
parameters on every execution.

asyncpg prepares every statement. After five executions PostgreSQL may switch a
prepared statement to a generic plan, costed once with the table as it was then
and kept however the table grows. A history page prepared on a young table got a
hash join over a sequential scan of ``analysis_request`` (its LIMIT and OFFSET
unknown, it plans for a tenth of the rows), and the projector's batch read of rows
by id a sequential scan, and both stayed as the table grew. Planning each
execution has its own cost, so only pools whose statements are worth it use
this (the status read by primary key keeps its generic plan)."""


def asyncpg_dsn(database_url: str | URL) -> str:
    """``DATABASE_URL`` (or an engine's URL) as asyncpg connects to it: without
    SQLAlchemy's driver name, password kept."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Statement:
    """SQL with ``$n`` placeholders and the names of the values they take, in order."""

    sql: str
    names: tuple[str, ...]

    def args(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]


DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
"""What asyncpg raises when PostgreSQL cannot take a statement (down, restarted,
unreachable, too slow to connect): callers on plain asyncpg turn these into
their own "unavailable" error."""

ASYNCHRONOUS_COMMIT = {"synchronous_commit": "off"}
"""Server settings for connections whose commits need not wait for their WAL to
reach the disk: a crash of PostgreSQL may then lose the last few hundred
milliseconds of their commits, never part of one, and never anything a later
durable commit (of any session) has made durable with it. Only for writes that
can be made again: the replay into a fresh schema (``projector.replay``)."""


def create_engine(
    settings: Settings,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    custom_plans: bool = False,
    asynchronous_commit: bool = False,
    name: str | None = None,
) -> AsyncEngine:
    """An engine with the PRD's pool settings and a short connect timeout, so an
    unreachable database fails requests quickly instead of hanging them.

    No pre-ping: it cost a round trip on every checkout (a status request made four:
    ping, BEGIN, SELECT, ROLLBACK). A connection broken by a database restart fails
    its statement instead, and SQLAlchemy then discards the whole pool, so the
    requests after it reconnect; the outage tests cover that recovery.

    ``custom_plans``: see :data:`CUSTOM_PLANS`; ``asynchronous_commit``: see
    :data:`ASYNCHRONOUS_COMMIT`; ``name``: its pool's label in the pool metrics
    (unnamed engines, the admin commands', are not measured).
    """
    connect_args: dict[str, object] = {"timeout": 5, "command_timeout": 30}
    server_settings = {
        **(CUSTOM_PLANS if custom_plans else {}),
        **(ASYNCHRONOUS_COMMIT if asynchronous_commit else {}),
    }
    if server_settings:
        connect_args["server_settings"] = server_settings
    engine = create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=settings.database_max_overflow if max_overflow is None else max_overflow,
        pool_timeout=settings.database_pool_timeout,
        pool_recycle=settings.database_pool_recycle,
        connect_args=connect_args,
    )
    if name is not None:
        pool_metrics.watch_engine(name, engine)
    return engine


async def _json_codecs(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _end_transaction(conn: asyncpg.Connection) -> None:
    """What a pooled connection needs undone on release: only a transaction left
    open (its statements change no other session state: no SET or LISTEN), so
    the default reset (one more round trip per release) is not paid."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(
    settings: Settings,
    *,
    max_size: int | None = None,
    custom_plans: bool = False,
    name: str | None = None,
) -> asyncpg.Pool:
    """A plain asyncpg pool: the database path of the query side, the command
    side's reads and idempotency keys, the processors' ledger and the HTTP edge
    (literal SQL, each statement prepared once per connection and cached).

    On these paths SQLAlchemy's async adaptation (a greenlet per call, statement
    cache keys, result processing) cost more CPU than the queries themselves, and
    its queue pool closes every overflow connection it gets back, so a load past
    ``DATABASE_POOL_SIZE`` concurrent reads paid a new connection per request.
    asyncpg's pool keeps up to pool size + overflow connections open and closes
    the extra ones only after they sat idle for ``DATABASE_POOL_RECYCLE`` seconds.
    Nothing connects until the first statement.

    ``custom_plans``: see :data:`CUSTOM_PLANS` (the history listing's pool);
    ``name``: its label in the pool metrics (unnamed pools are not measured).
    """
    pool: asyncpg.Pool = await asyncpg.create_pool(
        asyncpg_dsn(settings.database_url),
        min_size=0,
        max_size=max_size or settings.database_pool_size + settings.database_max_overflow,
        max_inactive_connection_lifetime=max(settings.database_pool_recycle, 0),
        timeout=5,
        command_timeout=30,
        init=_json_codecs,
        reset=_end_transaction,
        server_settings=CUSTOM_PLANS if custom_plans else None,
    )
    if name is not None:
        pool_metrics.watch_pool(name, pool)
    return pool
