"""API keys: created and revoked by an operator, checked on every request.

A key is 32 random bytes (URL-safe base64, prefixed ``ma_`` so it is easy to
spot in a leaked log). Only its SHA-256 is stored: with that much entropy a
fast hash is enough (a slow password hash would only cost CPU on every request;
nobody can brute-force 256 random bits), and it lets the lookup be an index
hit. A key is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events import MediaAnalysisError
from read_model.tables import api_key

PREFIX = "ma_"


class KeyStoreUnavailable(MediaAnalysisError):
    """PostgreSQL could not answer a key lookup."""


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: UUID
    tenant: UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None


async def create(engine: AsyncEngine, tenant: UUID, name: str) -> tuple[KeyInfo, str]:
    """A new key for ``tenant``; returns its record and the key (shown once)."""
    key = new_key()
    info = KeyInfo(uuid4(), tenant, name, datetime.now(UTC), None)
    async with engine.begin() as conn:
        await conn.execute(
            api_key.insert().values(
                id=info.id,
                tenant=tenant,
                name=name,
                key_hash=key_hash(key),
                created_at=info.created_at,
            )
        )
    return info, key


async def listed(engine: AsyncEngine) -> list[KeyInfo]:
    query = select(
        api_key.c.id, api_key.c.tenant, api_key.c.name, api_key.c.created_at, api_key.c.revoked_at
    ).order_by(api_key.c.created_at)
    async with engine.connect() as conn:
        return [KeyInfo(*row) for row in (await conn.execute(query)).all()]


async def revoke(engine: AsyncEngine, key_id: UUID) -> bool:
    """Revoke a key; False when there is no such key or it was revoked already."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(api_key)
            .where(api_key.c.id == key_id, api_key.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return bool(result.rowcount)


class KeyResolver:
    """Key -> tenant for the API, with a short cache so a busy client does not
    cost a query per request; a revoked key stops working within ``ttl`` seconds."""

    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl
        self._cache: dict[str, tuple[float, UUID | None]] = {}

    async def tenant_of(self, key: str) -> UUID | None:
        """The tenant of an active key, or None for an unknown or revoked one."""
        digest = key_hash(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        query = select(api_key.c.tenant).where(
            api_key.c.key_hash == digest, api_key.c.revoked_at.is_(None)
        )
        try:
            async with self._engine.connect() as conn:
                tenant: UUID | None = (await conn.execute(query)).scalar_one_or_none()
        except (SQLAlchemyError, OSError) as exc:
            raise KeyStoreUnavailable(f"cannot check the API key: {exc}") from exc
        if len(self._cache) > 10_000:  # unknown keys must not grow it without bound
            self._cache.clear()
        self._cache[digest] = (now, tenant)
        return tenant
