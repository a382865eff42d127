"""The live status stream on the real stack, read with httpx-sse: a clip's states
in log order up to its terminal event, then the end of the stream; a reconnect
with Last-Event-ID that repeats nothing; the status endpoint's 400/404/410; the
stream of all analyses; and a listening connection cut by PostgreSQL that the
API replaces without the stream missing the end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse

from infra.database import asyncpg_dsn
from tests.conftest import MediaServer

pytestmark = pytest.mark.stack

TERMINAL = ("completed", "failed", "deleted")


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


async def submit(api: httpx.AsyncClient, media_url: str) -> str:
    body = {"prompt": f"stream {uuid4()}", "media_url": media_url, "media_type": "video"}
    accepted = await api.post("/api/media/analyze", json=body)
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["analysis_id"])


async def read_stream(
    api: httpx.AsyncClient,
    path: str,
    *,
    last_event_id: str | None = None,
    stop: Callable[[list[ServerSentEvent]], bool] | None = None,
    within: float = 240,
) -> tuple[list[ServerSentEvent], bool]:
    """The events of ``path`` and whether the server ended the stream; stops
    early (and says False) once ``stop(events)`` holds."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[ServerSentEvent] = []
    async with asyncio.timeout(within):
        async with aconnect_sse(api, "GET", path, headers=headers) as source:
            assert source.response.status_code == 200, await source.response.aread()
            async for event in source.aiter_sse():
                if not event.data:
                    continue  # a heartbeat: httpx-sse hands a comment on as an empty event
                events.append(event)
                if stop is not None and stop(events):
                    return events, False
    return events, True


def position(event: ServerSentEvent) -> tuple[int, int]:
    partition, offset = event.id.split("-")
    return int(partition), int(offset)


async def test_a_clip_streams_its_states_in_log_order_up_to_completed_then_the_stream_ends(
    api: httpx.AsyncClient, media_server: MediaServer
) -> None:
    aid = await submit(api, media_server.url("clip.mp4"))
    events, ended = await read_stream(api, f"/api/media/{aid}/stream")

    assert ended, "the server closes the stream after the terminal event"
    states = [json.loads(e.data) for e in events]
    assert {s["analysis_id"] for s in states} == {aid}
    assert states[0]["status"] in ("pending", "processing")
    assert events[-1].event == "media-analysis.analysis.completed"
    assert [s["status"] for s in states].count("completed") == 1
    progress = [s["progress"] for s in states]
    assert progress == sorted(progress), "progress never goes back"
    stages = [e for e in events if e.event == "media-analysis.analysis.progressed"]
    assert len({json.loads(e.data)["progress"] for e in stages}) >= 2, "stage progress is shown"
    positions = [position(e) for e in events]
    assert positions == sorted(set(positions)), "ids are log positions, each once, in order"

    # Each event is one the log holds for this analysis, with its own type, and the
    # last state is exactly what the status endpoint shows.
    audit = (await api.get(f"/api/media/{aid}/events")).json()["events"]
    logged = {(e["partition"], e["offset"]): e["type"] for e in audit}
    assert all(logged[position(e)] == e.event for e in events)
    assert states[-1] == (await api.get(f"/api/media/status/{aid}")).json()


async def test_a_reconnect_with_last_event_id_resumes_without_repeats(
    api: httpx.AsyncClient, media_server: MediaServer
) -> None:
    aid = await submit(api, media_server.url("clip.mp4"))
    path = f"/api/media/{aid}/stream"
    first, ended = await read_stream(api, path, stop=lambda events: len(events) == 2)
    assert not ended
    rest, ended = await read_stream(api, path, last_event_id=first[-1].id)
    assert ended
    assert rest[-1].event == "media-analysis.analysis.completed"
    assert {e.id for e in first}.isdisjoint(e.id for e in rest)
    assert all(position(e) > position(first[-1]) for e in rest), "only later states"

    # Resuming after the final state: 204, which tells EventSource to stop.
    done = await api.get(path, headers={"Last-Event-ID": rest[-1].id})
    assert done.status_code == 204
    # Without an id, a finished analysis streams its final state once and ends.
    again, ended = await read_stream(api, path)
    assert ended
    assert [e.id for e in again] == [rest[-1].id]


async def test_unknown_malformed_and_deleted_ids_are_answered_like_the_status_endpoint(
    api: httpx.AsyncClient, gone_media_url: str
) -> None:
    unknown = str(uuid4())
    for path, status in (
        (f"/api/media/{unknown}/stream", 404),
        ("/api/media/12345/stream", 400),
    ):
        answer = await api.get(path)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    status_404 = await api.get(f"/api/media/status/{unknown}")
    assert (await api.get(f"/api/media/{unknown}/stream")).json()["detail"] == status_404.json()[
        "detail"
    ]

    aid = await submit(api, gone_media_url)
    assert (await api.delete(f"/api/media/{aid}")).status_code == 204
    gone = await api.get(f"/api/media/{aid}/stream")
    assert gone.status_code == 410
    assert gone.json()["detail"] == (await api.get(f"/api/media/status/{aid}")).json()["detail"]


async def test_the_stream_of_all_analyses_shows_a_new_one_from_pending_to_its_end(
    api: httpx.AsyncClient, gone_media_url: str
) -> None:
    ready = asyncio.Event()
    ours: list[str] = []

    def ended_for_ours(events: list[ServerSentEvent]) -> bool:
        last = events[-1]
        if last.event == "ready":
            ready.set()  # the in-flight snapshot is sent: changes follow
            return False
        state = json.loads(last.data)
        return state.get("analysis_id") in ours and state["status"] in TERMINAL

    follower = asyncio.create_task(read_stream(api, "/api/media/stream", stop=ended_for_ours))
    async with asyncio.timeout(30):
        await ready.wait()
    ours.append(await submit(api, gone_media_url))
    events, _ = await follower

    states = [json.loads(e.data) for e in events if e.event not in ("ready", "resync")]
    statuses = [s["status"] for s in states if s["analysis_id"] == ours[0]]
    assert statuses[0] in ("pending", "processing")
    assert statuses[-1] == "failed"
    order = ["pending", "processing", "failed"]
    assert statuses == sorted(statuses, key=order.index)


async def test_when_postgresql_cuts_the_listening_connection_the_stream_still_reaches_the_end(
    api: httpx.AsyncClient, media_server: MediaServer, prepared: dict[str, str]
) -> None:
    dsn = asyncpg_dsn(prepared["DATABASE_URL"])
    aid = await submit(api, media_server.url("clip.mp4"))
    cut: list[int] = []
    cutting: list[asyncio.Task[None]] = []

    async def cut_listener() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity "
                "WHERE application_name = 'media-analysis status streams'"
            )
            cut.append(sum(1 for r in rows if r["done"]))
        finally:
            await conn.close()

    def after_first(events: list[ServerSentEvent]) -> bool:
        if len(events) == 1:
            cutting.append(asyncio.get_running_loop().create_task(cut_listener()))
        return False

    events, ended = await read_stream(api, f"/api/media/{aid}/stream", stop=after_first)
    await asyncio.gather(*cutting)
    assert sum(cut) >= 1, "the API's listening connection was cut"
    assert ended
    assert events[-1].event == "media-analysis.analysis.completed"
    assert json.loads(events[-1].data) == (await api.get(f"/api/media/status/{aid}")).json()
    positions = [position(e) for e in events]
    assert positions == sorted(set(positions))

    async def listening_again() -> Any:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'media-analysis status streams'"
            )
        finally:
            await conn.close()

    assert await listening_again() >= 1
