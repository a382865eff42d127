"""The async SQLAlchemy engine, built from settings (never at import time)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from media_analysis.settings import Settings


def create_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """An engine with the PRD's pool settings and a short connect timeout, so an
    unreachable database fails requests quickly instead of hanging them."""
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        pool_recycle=settings.database_pool_recycle,
        pool_pre_ping=True,
        connect_args={"timeout": 5, "command_timeout": 30},
    )
