"""What the command side needs to know of an analysis before deleting it."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import asyncpg

from infra.database import DRIVER_ERRORS
from read_model.errors import ReadModelUnavailable
from read_model.positions import CatchUp, ProjectionBehind

_STATUS_SQL = "SELECT status FROM analysis_request WHERE id = $1"
_STATUS_FOR_TENANT_SQL = _STATUS_SQL + " AND created_by = $2"


class AnalysisLookup(Protocol):
    async def status_of(self, analysis_id: UUID, tenant: UUID | None = None) -> str | None:
        """The analysis's status, or None when no such analysis exists (for
        ``tenant``, when given: another tenant's analysis does not exist)."""
        ...


class ProjectionLookup:
    """Reads the status from the projection (read only)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def status_of(self, analysis_id: UUID, tenant: UUID | None = None) -> str | None:
        try:
            async with self._pool.acquire() as conn:
                if tenant is None:
                    status: str | None = await conn.fetchval(_STATUS_SQL, analysis_id)
                else:
                    status = await conn.fetchval(_STATUS_FOR_TENANT_SQL, analysis_id, tenant)
        except DRIVER_ERRORS as exc:
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
