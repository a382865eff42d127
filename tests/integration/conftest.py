"""Shared fixtures of the integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from infra.database import create_engine, create_pool
from infra.settings import Settings


@pytest.fixture(scope="module")
def run(migrated: dict[str, str]) -> Iterator[Any]:
    """Run coroutines against the migrated database on one private loop:
    ``run(lambda engine: coroutine)``."""
    loop = asyncio.new_event_loop()
    engine = create_engine(Settings(database_url=migrated["DATABASE_URL"]))
    yield lambda make: loop.run_until_complete(make(engine))
    loop.run_until_complete(engine.dispose())
    loop.close()


@pytest.fixture
def run_on_pool(migrated: dict[str, str]) -> Iterator[Any]:
    """The same on an asyncpg pool (the APIs' database path):
    ``run_on_pool(lambda pool: coroutine)``."""
    loop = asyncio.new_event_loop()
    pool = loop.run_until_complete(create_pool(Settings(database_url=migrated["DATABASE_URL"])))
    yield lambda make: loop.run_until_complete(make(pool))
    loop.run_until_complete(pool.close())
    loop.close()
