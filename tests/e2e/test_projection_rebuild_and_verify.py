"""Rebuild without downtime and verify, against the running services: the query
API keeps answering while the projection is rebuilt from offset 0 and switched,
the live projector carries on from the rebuilt positions, and verify notices a
row changed behind the log's back."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from tests.conftest import MediaServer, wait_for_status
from tests.integration.log_tools import projection_cli, sql

pytestmark = pytest.mark.stack


def _submit(client: httpx.Client, media_url: str) -> str:
    response = client.post(
        "/api/media/analyze",
        json={"prompt": "rebuild me", "media_url": media_url, "media_type": "video"},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["analysis_id"])


def test_given_traffic_when_the_projection_is_rebuilt_then_no_request_fails(
    client: httpx.Client, base_url: str, media_server: MediaServer, prepared: dict[str, str]
) -> None:
    ids = [_submit(client, media_server.url("clip.mp4")) for _ in range(2)]
    before = {i: wait_for_status(client, i, {"completed", "failed"}) for i in ids}
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as c:
            while not stop.is_set():
                for analysis_id in ids:
                    r = c.get(f"/api/media/status/{analysis_id}")
                    outcomes[str(r.status_code)] += 1
                    if r.status_code != 200 or r.json() != before[analysis_id]:
                        failures.append(f"status {r.status_code}: {r.text[:200]}")
                r = c.get("/api/media/history", params={"per_page": 5})
                outcomes[str(r.status_code)] += 1
                if r.status_code != 200:
                    failures.append(f"history {r.status_code}: {r.text[:200]}")

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        rebuilt = projection_cli(prepared, "rebuild")
    finally:
        stop.set()
        thread.join(timeout=30)

    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "the live projection now serves the rebuilt tables" in rebuilt.stdout
    assert "events/s" in rebuilt.stdout
    assert failures == []
    assert outcomes["200"] > 20, outcomes
    # The old tables are gone, the rebuilt ones serve under the same names.
    schemas = sql(prepared["DATABASE_URL"], "SELECT nspname FROM pg_namespace")
    assert not {r["nspname"] for r in schemas} & {"projection_rebuild", "projection_retired"}

    # The live projector continues from the rebuilt positions.
    after = _submit(client, media_server.url("clip.mp4"))
    assert wait_for_status(client, after, {"completed", "failed"})["status"] == "completed"

    verified = projection_cli(prepared, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verify OK" in verified.stdout


def test_given_a_row_altered_by_hand_verify_fails_with_a_readable_diff(
    client: httpx.Client, media_server: MediaServer, prepared: dict[str, str]
) -> None:
    analysis_id = _submit(client, media_server.url("clip.mp4"))
    assert wait_for_status(client, analysis_id, {"completed", "failed"})["status"] == "completed"
    url = prepared["DATABASE_URL"]
    sql(url, "UPDATE analysis_request SET progress = 37 WHERE id = $1::uuid", analysis_id)
    try:
        verified = projection_cli(prepared, "verify")
    finally:
        sql(url, "UPDATE analysis_request SET progress = 100 WHERE id = $1::uuid", analysis_id)

    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert f"analysis_request {analysis_id}: progress: live=37 log=100" in verified.stdout
    assert "verify FAILED" in verified.stdout
