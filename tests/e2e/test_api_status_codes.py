"""Every status code of PRD appendix B (and the few the HTTP layer adds), each
with its RFC 9457 problem+json body: never HTML, never a stack trace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.stack


def assert_problem(response: httpx.Response, status: int, detail_has: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert detail_has in body["detail"], body
    assert "Traceback" not in response.text
    assert "<html" not in response.text.lower()
    return body


def valid_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "prompt": f"status-codes {uuid4()}",
        # Refused by the API in every test that keeps it: never fetched.
        "media_url": f"http://127.0.0.1:{free_port()}/clip.mp4",
        "media_type": "video",
    }
    body.update(overrides)
    return body


@pytest.fixture
def submitted(client: httpx.Client, gone_media_url: str) -> str:
    response = client.post("/api/media/analyze", json=valid_body(media_url=gone_media_url))
    assert response.status_code == 202, response.text
    return str(response.json()["analysis_id"])


# --- POST /api/media/analyze ---------------------------------------------------------


def test_post_valid_request_answers_202_with_id_location_and_estimate(
    client: httpx.Client, gone_media_url: str
) -> None:
    response = client.post(
        "/api/media/analyze",
        json=valid_body(
            media_url=gone_media_url,
            filename="clip.mp4",
            config={"model": "gpt-4o", "max_tokens": 2000, "temperature": 0.7, "seed": 7},
            options={"extract_frames": True},
        ),
    )
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"analysis_id", "status", "estimated_time", "message"}
    assert body["status"] == "pending"
    assert isinstance(body["estimated_time"], int)
    assert body["estimated_time"] >= 1
    assert response.headers["location"] == f"/api/media/status/{body['analysis_id']}"
    assert response.headers["location"] in body["message"]


def test_post_malformed_json_answers_400(client: httpx.Client) -> None:
    response = client.post(
        "/api/media/analyze",
        content=b'{"prompt": "p", "media_url": ',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "not valid JSON")


@pytest.mark.parametrize(
    ("change", "field", "detail_has"),
    [
        ({"media_type": "hologram"}, "media_type", "'video', 'audio'"),
        ({"prompt": ""}, "prompt", "at least 1 character"),
        ({"prompt": "x" * 10_001}, "prompt", "at most 10000 characters"),
        ({"media_url": "ftp://example.com/a.mp4"}, "media_url", "scheme"),
        ({"media_url": "file:///etc/passwd"}, "media_url", "scheme"),
        ({"media_url": "not a url"}, "media_url", "URL"),
        ({"config": {"blob": "x" * 17_000}}, "config", "at most 16384"),
        ({"config": "gpt-4o"}, "config", "valid dictionary"),
        ({"config": {"max_tokens": -1}}, "config.max_tokens", "greater than or equal to 1"),
        ({"config": {"max_tokens": 32_769}}, "config.max_tokens", "less than or equal to 32768"),
        ({"config": {"max_tokens": "many"}}, "config.max_tokens", "valid integer"),
        ({"config": {"temperature": 2.5}}, "config.temperature", "less than or equal to 2"),
        ({"config": {"model": ""}}, "config.model", "at least 1 character"),
        ({"config": {"llm_model": 7}}, "config.llm_model", "valid string"),
        # PostgreSQL cannot store U+0000; such a request must never reach the log.
        ({"prompt": "a\x00b"}, "prompt", "NUL"),
        ({"filename": "a\x00.mp4"}, "filename", "NUL"),
        ({"config": {"nested": ["\x00"]}}, "config", "NUL"),
        ({"options": {"make_coffee": True}}, "options.make_coffee", "not permitted"),
        ({"surprise": 1}, "surprise", "not permitted"),
        ({"webhook_url": "ftp://example.com/hook"}, "webhook_url", "scheme"),
        ({"webhook_url": "not a url"}, "webhook_url", "URL"),
        ({"webhook_events": ["deleted"]}, "webhook_events.0", "'completed'"),
        ({"webhook_events": []}, "webhook_events", "at least 1 item"),
    ],
)
def test_post_invalid_field_answers_422_naming_it(
    client: httpx.Client, change: dict[str, Any], field: str, detail_has: str
) -> None:
    problem = assert_problem(
        client.post("/api/media/analyze", json=valid_body(**change)), 422, field
    )
    assert [e["field"] for e in problem["errors"]] == [field]
    assert detail_has in problem["errors"][0]["message"]


@pytest.mark.parametrize("field", ["prompt", "media_url", "media_type"])
def test_post_missing_required_field_answers_400_naming_it(
    client: httpx.Client, field: str
) -> None:
    body = valid_body()
    body.pop(field)
    problem = assert_problem(client.post("/api/media/analyze", json=body), 400, field)
    assert problem["errors"] == [{"field": field, "message": "Field required"}]


@pytest.mark.parametrize("body", [[], "text", 7, None])
def test_post_body_that_is_not_an_object_answers_400(client: httpx.Client, body: Any) -> None:
    response = client.post("/api/media/analyze", json=body)
    problem = assert_problem(response, 400, "body")
    assert [e["field"] for e in problem["errors"]] == ["body"]


def test_post_missing_and_invalid_fields_together_answer_400_naming_both(
    client: httpx.Client,
) -> None:
    body = valid_body(media_type="hologram")
    body.pop("media_url")
    problem = assert_problem(client.post("/api/media/analyze", json=body), 400, "media_url")
    assert {e["field"] for e in problem["errors"]} == {"media_url", "media_type"}


def test_post_body_over_the_size_limit_answers_413(client: httpx.Client) -> None:
    oversized = valid_body(config={"blob": "x" * (1024 * 1024 + 1)})
    assert_problem(client.post("/api/media/analyze", json=oversized), 413, "larger than")


def test_post_chunked_body_over_the_size_limit_answers_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(17):
            yield b"x" * 65_536
        yield b'"}'

    response = client.post(
        "/api/media/analyze", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "larger than")


def test_post_a_body_that_is_not_json_answers_415(client: httpx.Client) -> None:
    response = client.post(
        "/api/media/analyze", content=b"prompt=p", headers={"content-type": "text/plain"}
    )
    assert_problem(response, 415, "application/json")


def test_post_an_invalid_idempotency_key_answers_400(client: httpx.Client) -> None:
    response = client.post(
        "/api/media/analyze", json=valid_body(), headers={"Idempotency-Key": "k" * 256}
    )
    assert_problem(response, 400, "Idempotency-Key")


# --- GET /api/media/status/{id} -------------------------------------------------------


def test_status_of_a_submitted_analysis_answers_200_with_every_field(
    client: httpx.Client, submitted: str
) -> None:
    response = client.get(f"/api/media/status/{submitted}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "analysis_id",
        "status",
        "progress",
        "media_type",
        "source_url",
        "filename",
        "prompt",
        "created_at",
        "updated_at",
        "completed_at",
        "result_summary",
        "results",
        "error_message",
    }
    assert body["analysis_id"] == submitted
    assert body["prompt"].startswith("status-codes ")


def test_status_of_a_malformed_id_answers_400(client: httpx.Client) -> None:
    assert_problem(client.get("/api/media/status/not-a-uuid"), 400, "not a valid analysis id")


def test_status_of_an_unknown_id_answers_404(client: httpx.Client) -> None:
    unknown = uuid4()
    assert_problem(client.get(f"/api/media/status/{unknown}"), 404, str(unknown))


def test_status_of_a_deleted_analysis_answers_410(client: httpx.Client, submitted: str) -> None:
    assert client.delete(f"/api/media/{submitted}").status_code == 204
    assert_problem(client.get(f"/api/media/status/{submitted}"), 410, "deleted")


# --- DELETE /api/media/{id} -----------------------------------------------------------


def test_delete_answers_204_with_no_body(client: httpx.Client, submitted: str) -> None:
    response = client.delete(f"/api/media/{submitted}")
    assert response.status_code == 204
    assert response.content == b""


def test_delete_of_a_malformed_id_answers_400(client: httpx.Client) -> None:
    assert_problem(client.delete("/api/media/12345"), 400, "not a valid analysis id")


def test_delete_of_an_unknown_id_answers_404(client: httpx.Client) -> None:
    unknown = uuid4()
    assert_problem(client.delete(f"/api/media/{unknown}"), 404, str(unknown))


def test_delete_of_a_deleted_analysis_answers_410(client: httpx.Client, submitted: str) -> None:
    assert client.delete(f"/api/media/{submitted}").status_code == 204
    assert_problem(client.delete(f"/api/media/{submitted}"), 410, "deleted")


# --- GET /api/media/history -----------------------------------------------------------


def test_history_answers_200_with_data_and_pagination(client: httpx.Client) -> None:
    response = client.get("/api/media/history", params={"per_page": 5})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "pagination"}
    assert set(body["pagination"]) == {"page", "per_page", "total", "total_pages", "next_cursor"}
    assert body["pagination"]["page"] == 1
    assert body["pagination"]["per_page"] == 5


@pytest.mark.parametrize(
    ("params", "detail_has"),
    [
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"per_page": "many"}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": -3}, "page"),
        ({"status": "weird"}, "status"),
        ({"media_type": "hologram"}, "media_type"),
        ({"sort_by": "prompt"}, "sort_by"),
        ({"order": "sideways"}, "order"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-13-45"}, "date_to"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_from must not be after"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "x", "page": 2}, "either page or cursor"),
    ],
)
def test_history_invalid_parameter_answers_400_naming_it(
    client: httpx.Client, params: dict[str, Any], detail_has: str
) -> None:
    assert_problem(client.get("/api/media/history", params=params), 400, detail_has)


# --- Outside the routes ---------------------------------------------------------------


def test_an_unknown_route_answers_404_as_problem_json(client: httpx.Client) -> None:
    assert_problem(client.get("/api/media/nowhere/at/all"), 404, "Not Found")


def test_a_wrong_method_answers_405_as_problem_json(client: httpx.Client) -> None:
    assert_problem(client.put("/api/media/analyze", json={}), 405, "Method Not Allowed")
