"""Idempotency keys: a retried POST with the same ``Idempotency-Key`` gets the
same analysis instead of a second one.

The command side owns the ``idempotency_key`` table (it never writes the read
table). A request claims its key with INSERT ... ON CONFLICT DO NOTHING, so of
any number of concurrent duplicates exactly one wins and publishes; the others
read the winner's analysis id. A claim whose publication failed is released;
one left unpublished by a crash is taken over after ``stale_after`` seconds,
with the same analysis id and event id, so the projector still applies it once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from events import MediaAnalysisError
from infra.database import DRIVER_ERRORS
from read_model.errors import ReadModelUnavailable


class IdempotencyKeyReused(MediaAnalysisError):
    """The key was already used with a different request body."""


@dataclass(frozen=True, slots=True)
class Claim:
    """The analysis a key stands for; ``owned`` when this request must publish it."""

    analysis_id: UUID
    owned: bool


def request_hash(body: dict[str, Any]) -> str:
    """A stable digest of the request as validated (defaults filled in)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore(Protocol):
    async def claim(self, key: str, digest: str, analysis_id: UUID) -> Claim: ...

    async def mark_published(self, key: str) -> None: ...

    async def release(self, key: str) -> None: ...


_CLAIM_SQL = (
    "INSERT INTO idempotency_key (key, request_hash, analysis_id, published, created_at) "
    "VALUES ($1, $2, $3, false, $4) ON CONFLICT (key) DO NOTHING RETURNING analysis_id"
)
_READ_SQL = (
    "SELECT request_hash, analysis_id, published, created_at FROM idempotency_key WHERE key = $1"
)
_TAKE_OVER_SQL = (
    "UPDATE idempotency_key SET created_at = $3 "
    "WHERE key = $1 AND NOT published AND created_at = $2 RETURNING analysis_id"
)
_PUBLISHED_SQL = "UPDATE idempotency_key SET published = true WHERE key = $1"
_RELEASE_SQL = "DELETE FROM idempotency_key WHERE key = $1 AND NOT published"


class PostgresIdempotencyStore:
    def __init__(self, pool: asyncpg.Pool, *, stale_after: float) -> None:
        self._pool = pool
        self._stale_after = timedelta(seconds=stale_after)

    async def claim(self, key: str, digest: str, analysis_id: UUID) -> Claim:
        """Claim ``key`` for ``analysis_id``, or return the analysis it already stands for."""
        try:
            for _ in range(3):  # a concurrent release can empty the slot between two steps
                claim = await self._try_claim(key, digest, analysis_id)
                if claim is not None:
                    return claim
        except DRIVER_ERRORS as exc:
            raise ReadModelUnavailable(
                f"PostgreSQL is unavailable (idempotency keys), retry later ({exc})"
            ) from exc
        raise ReadModelUnavailable("idempotency key claim kept changing; retry")

    async def _try_claim(self, key: str, digest: str, analysis_id: UUID) -> Claim | None:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(_CLAIM_SQL, key, digest, analysis_id, now) is not None:
                return Claim(analysis_id, owned=True)
            row = await conn.fetchrow(_READ_SQL, key)
            if row is None:
                return None
            if row["request_hash"] != digest:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key '{key}' was already used with a different request body "
                    f"(analysis {row['analysis_id']}); use a new key for a new request."
                )
            if row["published"] or now - row["created_at"] < self._stale_after:
                return Claim(row["analysis_id"], owned=False)
            taken = await conn.fetchval(_TAKE_OVER_SQL, key, row["created_at"], now)
            return Claim(row["analysis_id"], owned=taken is not None)

    async def mark_published(self, key: str) -> None:
        await self._execute(_PUBLISHED_SQL, key)

    async def release(self, key: str) -> None:
        """Forget an unpublished claim so a retry can publish."""
        await self._execute(_RELEASE_SQL, key)

    async def _execute(self, sql: str, key: str) -> None:
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(sql, key)
        except DRIVER_ERRORS as exc:
            raise ReadModelUnavailable(
                f"PostgreSQL is unavailable (idempotency keys), retry later ({exc})"
            ) from exc
