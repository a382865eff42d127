"""The async SQLAlchemy engine, built from settings (never at import time)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from media_analysis.settings import Settings


def create_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """An engine with the PRD's pool settings and a short connect timeout, so an
    unreachable database fails requests quickly instead of hanging them.

    No pre-ping: it cost a round trip on every checkout (a status request made four:
    ping, BEGIN, SELECT, ROLLBACK). A connection broken by a database restart fails
    its statement instead, and SQLAlchemy then discards the whole pool, so the
    requests after it reconnect; the outage tests cover that recovery.
    """
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        pool_recycle=settings.database_pool_recycle,
        connect_args={"timeout": 5, "command_timeout": 30},
    )


def single_statement_reads(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, without BEGIN/ROLLBACK around each statement.

    For callers that only read, one statement at a time: the statement is its own
    snapshot, and two round trips per request are saved.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")
