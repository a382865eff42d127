"""GET /api/media/{id}/events: an analysis's events in log order, and its state
as of a moment, folded from those events."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from tests.conftest import MediaServer, wait_for_status

pytestmark = pytest.mark.stack


def test_given_a_completed_analysis_its_events_and_past_states_are_served(
    client: httpx.Client, media_server: MediaServer
) -> None:
    submitted = client.post(
        "/api/media/analyze",
        json={
            "prompt": "audit me",
            "media_url": media_server.url("clip.mp4"),
            "media_type": "video",
        },
    )
    analysis_id = submitted.json()["analysis_id"]
    assert wait_for_status(client, analysis_id, {"completed", "failed"})["status"] == "completed"

    trail = client.get(f"/api/media/{analysis_id}/events")
    assert trail.status_code == 200, trail.text
    body = trail.json()
    kinds = [e["type"].rsplit(".", 1)[1] for e in body["events"]]
    assert kinds[0] == "requested"
    assert kinds[1] == "started"
    assert kinds[-1] == "completed"
    assert set(kinds[2:-1]) == {"progressed"}
    offsets = [e["offset"] for e in body["events"]]
    assert offsets == sorted(offsets)
    assert body["events"][0]["data"]["prompt"] == "audit me"
    assert body["state"]["status"] == "completed"

    requested_at = datetime.fromisoformat(body["events"][0]["time"])
    then = client.get(
        f"/api/media/{analysis_id}/events", params={"as_of": requested_at.isoformat()}
    )
    assert then.status_code == 200, then.text
    assert then.json()["state"]["status"] == "pending"
    assert then.json()["state"]["progress"] == 0
    assert [e["type"] for e in then.json()["events"]] == [body["events"][0]["type"]]

    before = (requested_at - timedelta(seconds=1)).isoformat()
    assert (
        client.get(f"/api/media/{analysis_id}/events", params={"as_of": before}).status_code == 404
    )

    assert client.delete(f"/api/media/{analysis_id}").status_code == 204
    gone = client.get(f"/api/media/{analysis_id}/events")
    assert gone.status_code == 410
    assert "deleted" in gone.json()["detail"]


def test_the_audit_trail_refuses_malformed_and_unknown_ids(client: httpx.Client) -> None:
    assert client.get("/api/media/not-a-uuid/events").status_code == 400
    assert client.get(f"/api/media/{uuid4()}/events").status_code == 404
    naive = client.get(f"/api/media/{uuid4()}/events", params={"as_of": "2026-01-01T00:00:00"})
    assert naive.status_code == 400
