"""DATABASE_URL as asyncpg connects to it."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from infra.database import asyncpg_dsn


def test_the_asyncpg_dsn_drops_the_driver_and_keeps_the_password() -> None:
    url = "postgresql+asyncpg://app:s3cr%40t@127.0.0.1:15432/media_analysis"
    expected = "postgresql://app:s3cr%40t@127.0.0.1:15432/media_analysis"
    assert asyncpg_dsn(url) == expected
    assert asyncpg_dsn(make_url(url)) == expected  # an engine's URL
