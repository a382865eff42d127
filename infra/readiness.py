"""Readiness checks: small async callables that return when a dependency answers
and raise otherwise, run together with a deadline. The APIs' ``/readyz`` and the
consumers' ops endpoint (infra.ops_server) run the same ones."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from events import MediaAnalysisError

Check = Callable[[], Awaitable[None]]
"""A readiness check: returns when the dependency answers, raises otherwise."""

CHECK_TIMEOUT_SECONDS = 3.0


class NotReady(MediaAnalysisError):
    """A check's own verdict (no partitions, no progress); its message says why."""


def postgres_check(pool: asyncpg.Pool) -> Check:
    async def check() -> None:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    return check


def engine_check(engine: AsyncEngine) -> Check:
    """PostgreSQL through a SQLAlchemy engine (the projector's)."""

    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


class KafkaCheck:
    """Asks the cluster for its metadata through one long-lived admin client."""

    def __init__(self, connection: Mapping[str, Any]) -> None:
        """``connection``: aiokafka's connection options (``kafka_connection(settings)``)."""
        self._connection = connection
        self._admin: AIOKafkaAdminClient | None = None

    async def __call__(self) -> None:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**self._connection, request_timeout_ms=3000)
            await admin.start()
            self._admin = admin
        try:
            await self._admin.describe_cluster()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            await admin.close()


async def run_checks(checks: dict[str, Check]) -> dict[str, str]:
    """Run every check concurrently; map each name to 'ok' or the reason it failed."""

    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"
        except NotReady as exc:
            return str(exc)
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return "ok"

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    return dict(zip(names, results, strict=True))
