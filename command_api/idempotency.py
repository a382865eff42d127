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

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from command_api.analysis_lookup import ReadModelUnavailable
from events import MediaAnalysisError
from read_model.tables import idempotency_key

t = idempotency_key


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


class PostgresIdempotencyStore:
    def __init__(self, engine: AsyncEngine, *, stale_after: float) -> None:
        self._engine = engine
        self._stale_after = timedelta(seconds=stale_after)

    async def claim(self, key: str, digest: str, analysis_id: UUID) -> Claim:
        """Claim ``key`` for ``analysis_id``, or return the analysis it already stands for."""
        try:
            for _ in range(3):  # a concurrent release can empty the slot between two steps
                claim = await self._try_claim(key, digest, analysis_id)
                if claim is not None:
                    return claim
        except (SQLAlchemyError, OSError) as exc:
            raise ReadModelUnavailable(
                f"PostgreSQL is unavailable (idempotency keys), retry later ({exc})"
            ) from exc
        raise ReadModelUnavailable("idempotency key claim kept changing; retry")

    async def _try_claim(self, key: str, digest: str, analysis_id: UUID) -> Claim | None:
        now = datetime.now(UTC)
        insert_new = (
            insert(t)
            .values(
                key=key,
                request_hash=digest,
                analysis_id=analysis_id,
                published=False,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(t.c.analysis_id)
        )
        async with self._engine.begin() as conn:
            if (await conn.execute(insert_new)).scalar_one_or_none() is not None:
                return Claim(analysis_id, owned=True)
            row = (await conn.execute(select(t).where(t.c.key == key))).first()
            if row is None:
                return None
            if row.request_hash != digest:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key '{key}' was already used with a different request body "
                    f"(analysis {row.analysis_id}); use a new key for a new request."
                )
            if row.published or now - row.created_at < self._stale_after:
                return Claim(row.analysis_id, owned=False)
            take_over = (
                update(t)
                .where(t.c.key == key, t.c.published.is_(False), t.c.created_at == row.created_at)
                .values(created_at=now)
                .returning(t.c.analysis_id)
            )
            taken = (await conn.execute(take_over)).scalar_one_or_none()
            return Claim(row.analysis_id, owned=taken is not None)

    async def mark_published(self, key: str) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(update(t).where(t.c.key == key).values(published=True))
        except (SQLAlchemyError, OSError) as exc:
            raise ReadModelUnavailable(
                f"PostgreSQL is unavailable (idempotency keys), retry later ({exc})"
            ) from exc

    async def release(self, key: str) -> None:
        """Forget an unpublished claim so a retry can publish."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(delete(t).where(t.c.key == key, t.c.published.is_(False)))
        except (SQLAlchemyError, OSError) as exc:
            raise ReadModelUnavailable(
                f"PostgreSQL is unavailable (idempotency keys), retry later ({exc})"
            ) from exc
