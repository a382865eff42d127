"""What the command side needs to know of an analysis before deleting it."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events import MediaAnalysisError
from read_model.positions import CatchUp, ProjectionBehind
from read_model.tables import analysis_request


class ReadModelUnavailable(MediaAnalysisError):
    """The projection could not be read (PostgreSQL down or too slow)."""


class AnalysisLookup(Protocol):
    async def status_of(self, analysis_id: UUID, tenant: UUID | None = None) -> str | None:
        """The analysis's status, or None when no such analysis exists (for
        ``tenant``, when given: another tenant's analysis does not exist)."""
        ...


class ProjectionLookup:
    """Reads the status from the projection (read only)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def status_of(self, analysis_id: UUID, tenant: UUID | None = None) -> str | None:
        query = select(analysis_request.c.status).where(analysis_request.c.id == analysis_id)
        if tenant is not None:
            query = query.where(analysis_request.c.created_by == tenant)
        try:
            async with self._engine.connect() as conn:
                status: str | None = (await conn.execute(query)).scalar_one_or_none()
        except (SQLAlchemyError, OSError) as exc:
            raise ReadModelUnavailable(f"PostgreSQL is unavailable, retry later ({exc})") from exc
        return status


class CaughtUpLookup:
    """A lookup that never calls an analysis unknown while the projection may
    still be applying its AnalysisRequested: on a miss it catches up with the
    log and looks again (an immediate DELETE after a 202 finds its analysis)."""

    def __init__(self, inner: AnalysisLookup, catch_up: CatchUp) -> None:
        self._inner = inner
        self._catch_up = catch_up

    async def status_of(self, analysis_id: UUID, tenant: UUID | None = None) -> str | None:
        found = await self._inner.status_of(analysis_id, tenant)
        if found is not None:
            return found
        try:
            await self._catch_up.wait()
        except ProjectionBehind as exc:
            raise ReadModelUnavailable(
                f"Cannot tell yet whether analysis {analysis_id} exists: {exc}; retry later"
            ) from exc
        return await self._inner.status_of(analysis_id, tenant)
