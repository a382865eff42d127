"""API_WORKERS > 1: several processes serve one port, each request is answered
by one of them, and any of them answers /metrics for all (prometheus-client's
multiprocess mode); SIGTERM to the parent stops every worker."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Service, free_port, wait_ready, wait_until

pytestmark = pytest.mark.stack

POSTS = 30
ACCEPTED = re.compile(
    r'^media_analysis_http_requests_total\{method="POST",route="/api/media/analyze",'
    r'status="202"\} (\d+)\.0$',
    re.M,
)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _worker_pids(parent: int) -> list[int]:
    """uvicorn's workers: spawned interpreters running multiprocessing's spawn_main."""
    return [
        child
        for child in _children(parent)
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


@pytest.mark.timeout(180)
def test_two_workers_share_the_port_and_the_metrics(
    services: dict[str, Service], prepared: dict[str, str], gone_media_url: str
) -> None:
    """The session's projector (``services``) applies what these workers record."""
    port = free_port()
    env = {**prepared, "API_PORT": str(port), "API_WORKERS": "2", "LOG_LEVEL": "WARNING"}
    api = Service("api-workers", "api", env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready([api], base_url)
        workers = wait_until(
            lambda: w if len(w := _worker_pids(api.process.pid)) == 2 else None,
            timeout=30,
            what="two worker processes",
        )
        body = {"prompt": "workers", "media_url": gone_media_url, "media_type": "video"}
        for _ in range(POSTS):  # a new connection each: the kernel spreads them
            with httpx.Client(base_url=base_url, timeout=30) as client:
                posted = client.post("/api/media/analyze", json=body)
                assert posted.status_code == 202, posted.text
                read = client.get(f"/api/media/status/{posted.json()['analysis_id']}")
                assert read.status_code == 200, read.text
        scrapes = []
        for _ in range(6):
            with httpx.Client(base_url=base_url, timeout=30) as client:
                scrapes.append(client.get("/metrics").text)
        counted = [int(m.group(1)) for m in map(ACCEPTED.search, scrapes) if m]
        assert counted == [POSTS] * 6  # every scrape, whichever worker answers, sees all
    finally:
        api.stop()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.2)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()], "workers outlived SIGTERM"
