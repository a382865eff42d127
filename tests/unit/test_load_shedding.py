"""The in-flight cap answers 503 + Retry-After past its limit and admits probes."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from http_edge.load_shedding import InFlightLimit


def _app(release: asyncio.Event, entered: asyncio.Semaphore) -> InFlightLimit:
    async def slow(request: Request) -> PlainTextResponse:
        entered.release()
        await release.wait()
        return PlainTextResponse("done")

    async def ready(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ready")

    inner = Starlette(routes=[Route("/slow", slow), Route("/readyz", ready)])
    return InFlightLimit(inner, limit=2, retry_after_seconds=3)


@pytest.mark.asyncio
async def test_given_limit_reached_when_another_request_arrives_then_503_with_retry_after() -> None:
    release, entered = asyncio.Event(), asyncio.Semaphore(0)
    app = _app(release, entered)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        held = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
        for _ in range(2):
            await asyncio.wait_for(entered.acquire(), 5)

        refused = await client.get("/slow")
        probe = await client.get("/readyz")

        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "3"
        assert refused.headers["content-type"] == "application/problem+json"
        assert "limit of 2 requests" in refused.json()["detail"]
        assert probe.status_code == 200, "probes are admitted even at the limit"
        assert app.shed == 1

        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        assert app.in_flight == 0
        assert (await client.get("/slow")).status_code == 200, "capacity returns"
