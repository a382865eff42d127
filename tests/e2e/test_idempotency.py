"""Idempotency-Key on POST /api/media/analyze against the real stack: retries
and concurrent duplicates create one analysis and one AnalysisRequested event;
the same key with another body is refused."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import func, select

from infra.database import create_engine
from infra.settings import Settings
from read_model.tables import analysis_event, analysis_request
from tests.conftest import wait_until

pytestmark = pytest.mark.stack

REQUESTED = "media-analysis.analysis.requested"


def counts(database_url: str, prompt: str) -> tuple[int, int]:
    """(AnalysisRequested events in the audit table, analyses in the read table) for ``prompt``."""

    async def query() -> tuple[int, int]:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with engine.connect() as conn:
                events = await conn.scalar(
                    select(func.count())
                    .select_from(analysis_event)
                    .where(
                        analysis_event.c.type == REQUESTED,
                        analysis_event.c.data["prompt"].astext == prompt,
                    )
                )
                rows = await conn.scalar(
                    select(func.count())
                    .select_from(analysis_request)
                    .where(analysis_request.c.prompt == prompt)
                )
            return int(events or 0), int(rows or 0)
        finally:
            await engine.dispose()

    return asyncio.run(query())


def body(prompt: str, media_url: str) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "media_url": media_url,
        "media_type": "audio",
    }


def test_twenty_concurrent_posts_with_one_key_make_one_analysis(
    base_url: str, prepared: dict[str, str], gone_media_url: str
) -> None:
    prompt = f"idempotent {uuid4()}"
    request = body(prompt, gone_media_url)
    key = str(uuid4())

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as c:
            return c.post("/api/media/analyze", json=request, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(post, range(20)))

    assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses]
    ids = {r.json()["analysis_id"] for r in responses}
    assert len(ids) == 1
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 19
    analysis_id = ids.pop()
    with httpx.Client(base_url=base_url, timeout=30) as c:
        # Read-your-writes holds for the replays too.
        assert c.get(f"/api/media/status/{analysis_id}").status_code == 200
    # The projector has applied everything POST answered for; give stray duplicates
    # (there must be none) time to show up before counting.
    wait_until(lambda: counts(prepared["DATABASE_URL"], prompt) == (1, 1), timeout=10)
    with httpx.Client(base_url=base_url, timeout=30) as c:
        again = c.post("/api/media/analyze", json=request, headers={"Idempotency-Key": key})
    assert again.status_code == 202
    assert again.json()["analysis_id"] == analysis_id
    assert counts(prepared["DATABASE_URL"], prompt) == (1, 1)


def test_the_same_key_with_another_body_answers_409(
    client: httpx.Client, gone_media_url: str
) -> None:
    key = str(uuid4())
    first = client.post(
        "/api/media/analyze",
        json=body(f"first {uuid4()}", gone_media_url),
        headers={"Idempotency-Key": key},
    )
    assert first.status_code == 202
    other = client.post(
        "/api/media/analyze",
        json=body(f"second {uuid4()}", gone_media_url),
        headers={"Idempotency-Key": key},
    )
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    problem = other.json()
    assert problem["status"] == 409
    assert (
        f"Idempotency-Key '{key}' was already used with a different request body"
        in (problem["detail"])
    )
    assert first.json()["analysis_id"] in problem["detail"]


def test_without_a_key_every_post_is_a_new_analysis(
    client: httpx.Client, gone_media_url: str
) -> None:
    request = body(f"no key {uuid4()}", gone_media_url)
    ids = {client.post("/api/media/analyze", json=request).json()["analysis_id"] for _ in range(3)}
    assert len(ids) == 3
