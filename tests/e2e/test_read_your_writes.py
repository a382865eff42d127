"""Read-your-writes on the real stack: once POST has answered 202 the status is
there (200), and once DELETE has answered 204 it is gone (410), every time; and
POST does not wait for the projector to get there (a read that finds nothing
catches up with the log instead)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

import httpx
import pytest

from tests.conftest import Service, wait_until

pytestmark = pytest.mark.stack


# 400 round trips through Kafka and the projector, then the processor's backlog:
# minutes on a loaded 2-core machine.
@pytest.mark.timeout(1500)
def test_300_posts_then_100_deletes_are_each_visible_at_once(
    client: httpx.Client, gone_media_url: str
) -> None:
    media_url = gone_media_url
    marker = uuid4()
    ids: list[str] = []
    misses: list[str] = []
    for i in range(300):
        posted = client.post(
            "/api/media/analyze",
            json={"prompt": f"ryw {marker} #{i}", "media_url": media_url, "media_type": "video"},
        )
        assert posted.status_code == 202, posted.text
        analysis_id = posted.json()["analysis_id"]
        read = client.get(f"/api/media/status/{analysis_id}")
        if read.status_code != 200:
            misses.append(f"POST {analysis_id}: {read.status_code}")
        ids.append(analysis_id)
    for analysis_id in ids[:100]:
        deleted = client.delete(f"/api/media/{analysis_id}")
        assert deleted.status_code == 204, deleted.text
        read = client.get(f"/api/media/status/{analysis_id}")
        if read.status_code != 410:
            misses.append(f"DELETE {analysis_id}: {read.status_code}")
    assert misses == []

    # Leave no backlog behind: later tests wait for their own analyses behind ours.
    remaining = ids[100:]

    def drained() -> bool:
        while remaining:
            status = client.get(f"/api/media/status/{remaining[0]}").json()["status"]
            if status not in ("completed", "failed"):
                return False
            remaining.pop(0)
        return True

    wait_until(drained, timeout=600, interval=0.5, what="the processor to finish these analyses")


@contextmanager
def projector_paused(services: dict[str, Service]) -> Iterator[int]:
    """SIGSTOP the suite's projector (resumed on the way out, whatever happens)."""
    pid = services["projector"].process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def submit(client: httpx.Client, media_url: str) -> tuple[str, float]:
    began = time.monotonic()
    posted = client.post(
        "/api/media/analyze",
        json={"prompt": "ryw paused", "media_url": media_url, "media_type": "video"},
    )
    assert posted.status_code == 202, posted.text
    return posted.json()["analysis_id"], time.monotonic() - began


@pytest.mark.timeout(120)
def test_post_answers_without_the_projector_and_reads_wait_for_it(
    client: httpx.Client, services: dict[str, Service], gone_media_url: str
) -> None:
    with projector_paused(services) as pid:
        analysis_id, post_took = submit(client, gone_media_url)
        threading.Timer(1.0, os.kill, (pid, signal.SIGCONT)).start()
        began = time.monotonic()
        read = client.get(f"/api/media/status/{analysis_id}")
        read_took = time.monotonic() - began
    assert post_took < 1.0  # acknowledged by Kafka; the projector was stopped
    assert read.status_code == 200, read.text  # the read waited instead of a 404
    assert read_took >= 0.8

    with projector_paused(services) as pid:
        analysis_id, _ = submit(client, gone_media_url)
        threading.Timer(1.0, os.kill, (pid, signal.SIGCONT)).start()
        deleted = client.delete(f"/api/media/{analysis_id}")  # finds what it must delete
    assert deleted.status_code == 204, deleted.text
    assert client.get(f"/api/media/status/{analysis_id}").status_code == 410


@pytest.mark.timeout(120)
def test_a_read_that_cannot_see_the_projection_catch_up_answers_503_not_404(
    client: httpx.Client, services: dict[str, Service], gone_media_url: str
) -> None:
    with projector_paused(services):
        analysis_id, _ = submit(client, gone_media_url)
        began = time.monotonic()
        read = client.get(f"/api/media/status/{analysis_id}")
        took = time.monotonic() - began
        events = client.get(f"/api/media/{analysis_id}/events")
    assert read.status_code == 503, read.text
    assert read.headers["content-type"] == "application/problem+json"
    assert read.json()["detail"].startswith(f"Cannot tell yet whether analysis {analysis_id}")
    assert read.headers["Retry-After"] == "1"
    assert 4.0 < took < 10.0  # READ_YOUR_WRITES_TIMEOUT_SECONDS (5) in the suite
    assert events.status_code == 503, events.text
    wait_until(
        lambda: client.get(f"/api/media/status/{analysis_id}").status_code == 200,
        timeout=30,
        what="the analysis once the projector runs again",
    )
