"""The history listing answered past FastAPI (``DirectRoutes`` calling
``history_direct``) gives the very answers FastAPI's own route gives, for good
and bad parameters alike (real PostgreSQL, the query side in-process)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from entrypoints import app as api
from infra.settings import Settings

QUERIES = [
    "",
    "page=2&per_page=5",
    "per_page=100&sort_by=progress&order=asc",
    "status=failed&media_type=video",
    "status=deleted",
    "date_from=2001-01-01T00:00:00&date_to=2001-01-02T00:00:00Z",
    "date_from=2001-01-02&date_to=2001-01-01",
    "per_page=7&per_page=3",  # the last value counts
    "unknown=1&per_page=2",
    "per_page=0",
    "per_page=101",
    "per_page=many",
    "page=",
    "page=0",
    "status=lost&media_type=sound&order=up",
    "sort_by=prompt",
    "date_from=yesterday",
    "cursor=bm90LWEtY3Vyc29y",
    "cursor=x&page=2",
    "cursor=" + "x" * 1001,
]


async def _answers(settings: Settings, queries: list[str]) -> list[tuple[int, str, bytes]]:
    app = api.build_app(settings, ("query",))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            out = []
            for query in queries:
                answer = await client.get(f"/api/media/history?{query}")
                out.append((answer.status_code, answer.headers["content-type"], answer.content))
            return out


def test_the_direct_history_answers_as_fastapis_route(
    migrated: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(database_url=migrated["DATABASE_URL"])
    direct = asyncio.run(_answers(settings, QUERIES))
    hot: Any = {**api.HOT_ROUTES, "query": (("GET", "/api/media/status/{analysis_id}"),)}
    monkeypatch.setattr(api, "HOT_ROUTES", hot)
    fastapi = asyncio.run(_answers(settings, QUERIES))

    for query, mine, theirs in zip(QUERIES, direct, fastapi, strict=True):
        assert mine == theirs, query
    assert {status for status, _, _ in direct} == {200, 400}
