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

import asyncpg

from events import MediaAnalysisError
from infra.database import DRIVER_ERRORS

PREFIX = "ma_"

_CREATE_SQL = (
    "INSERT INTO api_key (id, tenant, name, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)"
)
_LIST_SQL = "SELECT id, tenant, name, created_at, revoked_at FROM api_key ORDER BY created_at"
_REVOKE_SQL = "UPDATE api_key SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id"
_TENANT_SQL = "SELECT tenant FROM api_key WHERE key_hash = $1 AND revoked_at IS NULL"


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


async def create(pool: asyncpg.Pool, tenant: UUID, name: str) -> tuple[KeyInfo, str]:
    """A new key for ``tenant``; returns its record and the key (shown once)."""
    key = new_key()
    info = KeyInfo(uuid4(), tenant, name, datetime.now(UTC), None)
    async with pool.acquire() as conn:
        await conn.execute(_CREATE_SQL, info.id, tenant, name, key_hash(key), info.created_at)
    return info, key


async def listed(pool: asyncpg.Pool) -> list[KeyInfo]:
    async with pool.acquire() as conn:
        return [KeyInfo(*row) for row in await conn.fetch(_LIST_SQL)]


async def revoke(pool: asyncpg.Pool, key_id: UUID) -> bool:
    """Revoke a key; False when there is no such key or it was revoked already."""
    async with pool.acquire() as conn:
        return await conn.fetchval(_REVOKE_SQL, key_id, datetime.now(UTC)) is not None


class KeyResolver:
    """Key -> tenant for the API, with a short cache so a busy client does not
    cost a query per request; a revoked key stops working within ``ttl`` seconds."""

    def __init__(self, pool: asyncpg.Pool, ttl: float) -> None:
        self._pool = pool
        self._ttl = ttl
        self._cache: dict[str, tuple[float, UUID | None]] = {}

    async def tenant_of(self, key: str) -> UUID | None:
        """The tenant of an active key, or None for an unknown or revoked one."""
        digest = key_hash(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            async with self._pool.acquire() as conn:
                tenant: UUID | None = await conn.fetchval(_TENANT_SQL, digest)
        except DRIVER_ERRORS as exc:
            raise KeyStoreUnavailable(f"cannot check the API key: {exc}") from exc
        if len(self._cache) > 10_000:  # unknown keys must not grow it without bound
            self._cache.clear()
        self._cache[digest] = (now, tenant)
        return tenant
