"""Submit → process → project → query, end to end on real Kafka, PostgreSQL
and ffmpeg, with the services running as their own processes."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from tests.conftest import MediaServer, free_port, wait_for_status

pytestmark = pytest.mark.stack


def submit(client: httpx.Client, media_url: str, media_type: str = "video") -> str:
    response = client.post(
        "/api/media/analyze",
        json={"prompt": "What is in this clip?", "media_url": media_url, "media_type": media_type},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert response.headers["location"] == f"/api/media/status/{body['analysis_id']}"
    assert body["estimated_time"] > 0
    return str(body["analysis_id"])


def test_a_clip_is_analysed_listed_and_deleted(
    client: httpx.Client, media_server: MediaServer
) -> None:
    analysis_id = submit(client, media_server.url("clip.mp4"))

    done = wait_for_status(client, analysis_id, {"completed", "failed"})
    assert done["status"] == "completed", done["error_message"]
    assert done["progress"] == 100
    assert done["prompt"] == "What is in this clip?"
    probe = done["results"]["probe"]
    assert probe["duration"] == pytest.approx(3.0, abs=0.2)
    kinds = {s["type"] for s in probe["streams"]}
    assert kinds == {"video", "audio"}
    video = next(s for s in probe["streams"] if s["type"] == "video")
    assert (video["width"], video["height"]) == (160, 120)
    assert done["completed_at"] is not None

    history = client.get("/api/media/history", params={"per_page": 100}).json()
    assert analysis_id in {item["analysis_id"] for item in history["data"]}
    assert history["pagination"]["total"] >= 1

    assert client.delete(f"/api/media/{analysis_id}").status_code == 204
    gone = client.get(f"/api/media/status/{analysis_id}")
    assert gone.status_code == 410
    assert "deleted" in gone.json()["detail"]
    assert client.delete(f"/api/media/{analysis_id}").status_code == 410
    history = client.get("/api/media/history", params={"per_page": 100}).json()
    assert analysis_id not in {item["analysis_id"] for item in history["data"]}


def test_an_unreachable_url_fails_saying_why(client: httpx.Client) -> None:
    closed_port = free_port()  # nothing listens there
    analysis_id = submit(client, f"http://127.0.0.1:{closed_port}/missing.mp4")
    done = wait_for_status(client, analysis_id, {"completed", "failed"})
    assert done["status"] == "failed"
    assert done["error_message"].startswith("fetch_unreachable: cannot reach 127.0.0.1")


def test_a_missing_file_fails_with_the_http_status(
    client: httpx.Client, media_server: MediaServer
) -> None:
    analysis_id = submit(client, media_server.url("nope.mp4"))
    done = wait_for_status(client, analysis_id, {"completed", "failed"})
    assert done["status"] == "failed"
    assert "HTTP 404" in done["error_message"]


def test_a_file_that_is_not_media_fails_saying_so(
    client: httpx.Client, media_server: MediaServer
) -> None:
    # Declared as video: text is no video (as ``unknown`` it would be read as a document).
    analysis_id = submit(client, media_server.url("notes.txt"), media_type="video")
    done = wait_for_status(client, analysis_id, {"completed", "failed"})
    assert done["status"] == "failed"
    assert done["error_message"].startswith("media_undecodable: not decodable as media")


def test_status_of_a_malformed_or_unknown_id(client: httpx.Client) -> None:
    malformed = client.get("/api/media/status/not-a-uuid")
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/problem+json"
    assert "not a valid analysis id" in malformed.json()["detail"]
    unknown = client.get(f"/api/media/status/{uuid4()}")
    assert unknown.status_code == 404
    assert "No analysis" in unknown.json()["detail"]
    assert client.delete(f"/api/media/{uuid4()}").status_code == 404
    assert client.delete("/api/media/12345").status_code == 400


def test_invalid_submissions_name_the_field(client: httpx.Client) -> None:
    bad_type = client.post(
        "/api/media/analyze",
        json={"prompt": "p", "media_url": "https://e.com/a", "media_type": "hologram"},
    )
    assert bad_type.status_code == 422
    assert "media_type" in bad_type.json()["detail"]
    missing = client.post(
        "/api/media/analyze", json={"media_url": "https://e.com/a", "media_type": "video"}
    )
    assert missing.status_code == 400
    assert "prompt" in missing.json()["detail"]
    malformed = client.post(
        "/api/media/analyze", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert "not valid JSON" in malformed.json()["detail"]


def test_history_pages_and_rejects_bad_parameters(client: httpx.Client) -> None:
    page = client.get("/api/media/history", params={"page": 1, "per_page": 2})
    assert page.status_code == 200
    body = page.json()
    assert len(body["data"]) <= 2
    assert body["pagination"]["per_page"] == 2
    assert client.get("/api/media/history", params={"per_page": 101}).status_code == 400
    assert client.get("/api/media/history", params={"page": 0}).status_code == 400
    assert client.get("/api/media/history", params={"status": "weird"}).status_code == 400


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["checks"] == {"kafka": "ok", "postgres": "ok"}
