"""What a client written from the PRD alone sends and expects: its examples and
its defaults, exactly where the PRD states them (sections 5.1 and 5.4)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from tests.conftest import wait_for_status, wait_until

pytestmark = pytest.mark.stack

STATUSES = {"pending", "processing", "completed", "failed"}
MEDIA_TYPES = {"video", "audio", "document", "image", "unknown"}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def submit(client: httpx.Client, media_url: str, **extra: Any) -> str:
    body = {"prompt": "What is happening in this video?", "media_url": media_url}
    response = client.post("/api/media/analyze", json={**body, "media_type": "video", **extra})
    assert response.status_code == 202, response.text
    return str(response.json()["analysis_id"])


def test_the_prd_request_example_with_its_config_is_accepted(
    client: httpx.Client, gone_media_url: str
) -> None:
    submit(
        client,
        gone_media_url,
        config={"model": "gpt-4o", "max_tokens": 2000, "temperature": 0.7},
        options={"extract_frames": True, "generate_contact_sheet": False, "transcribe_audio": True},
    )


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"max_tokens": -1}, "config.max_tokens"),
        ({"max_tokens": 0}, "config.max_tokens"),
        ({"temperature": 2.1}, "config.temperature"),
        ({"temperature": -0.1}, "config.temperature"),
        ({"model": ""}, "config.model"),
    ],
)
def test_model_parameters_out_of_range_answer_422_naming_them(
    client: httpx.Client, gone_media_url: str, config: dict[str, Any], field: str
) -> None:
    body = {"prompt": "p", "media_url": gone_media_url, "media_type": "video", "config": config}
    response = client.post("/api/media/analyze", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == [field]
    assert field in problem["detail"]


@pytest.mark.parametrize("missing", ["prompt", "media_url", "media_type"])
def test_a_missing_required_field_answers_400_naming_it(
    client: httpx.Client, gone_media_url: str, missing: str
) -> None:
    body = {"prompt": "p", "media_url": gone_media_url, "media_type": "video"}
    del body[missing]
    response = client.post("/api/media/analyze", json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [missing]


def test_an_unknown_media_type_answers_422(client: httpx.Client, gone_media_url: str) -> None:
    body = {"prompt": "p", "media_url": gone_media_url, "media_type": "hologram"}
    response = client.post("/api/media/analyze", json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["media_type"]


def _totals(client: httpx.Client) -> list[int]:
    queries: list[dict[str, str]] = [
        {},
        {"status": "all"},
        {"media_type": "all"},
        {"status": "all", "media_type": "all"},
    ]
    totals = []
    for params in queries:
        response = client.get("/api/media/history", params=params)
        assert response.status_code == 200, response.text
        totals.append(response.json()["pagination"]["total"])
    return totals


def test_all_is_the_same_as_no_status_or_media_type_filter(client: httpx.Client) -> None:
    # Earlier tests' analyses may still be landing: wait for one quiet round.
    def equal() -> list[int] | None:
        totals = _totals(client)
        return totals if len(set(totals)) == 1 else None

    totals = wait_until(equal, timeout=20, what="equal totals with and without `all`")
    assert totals[0] > 0


def test_all_with_a_status_filter_of_its_own_narrows_only_by_the_other(
    client: httpx.Client, gone_media_url: str
) -> None:
    analysis_id = submit(client, gone_media_url)
    wait_for_status(client, analysis_id, {"failed"})
    params = {"status": "failed", "media_type": "all", "per_page": 100}
    body = client.get("/api/media/history", params=params).json()
    assert {item["status"] for item in body["data"]} == {"failed"}
    assert analysis_id in {item["analysis_id"] for item in body["data"]}


def _listed(client: httpx.Client, **params: str) -> set[str]:
    response = client.get("/api/media/history", params={**params, "per_page": "100"})
    assert response.status_code == 200, response.text
    return {item["analysis_id"] for item in response.json()["data"]}


def test_a_date_only_date_to_includes_that_whole_day(
    client: httpx.Client, gone_media_url: str
) -> None:
    analysis_id = submit(client, gone_media_url)
    created = datetime.fromisoformat(wait_for_status(client, analysis_id, STATUSES)["created_at"])
    day = created.date().isoformat()
    assert analysis_id in _listed(client, date_to=day)
    assert analysis_id in _listed(client, date_from=day, date_to=day)
    # A timestamp keeps its exact meaning: midnight at the start of the day excludes it.
    assert analysis_id not in _listed(client, date_from=day, date_to=f"{day}T00:00:00Z")
    the_day_before = (created.date() - timedelta(days=1)).isoformat()
    assert analysis_id not in _listed(client, date_from=the_day_before, date_to=the_day_before)


def test_history_items_have_every_field_of_the_prd_example(
    client: httpx.Client, gone_media_url: str
) -> None:
    analysis_id = submit(client, gone_media_url)
    wait_for_status(client, analysis_id, {"failed"})
    response = client.get("/api/media/history", params={"page": 1, "per_page": 20})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"data", "pagination"}
    item = next(i for i in body["data"] if i["analysis_id"] == analysis_id)
    # The PRD's example, field by field.
    assert str(UUID(item["analysis_id"])) == analysis_id
    assert item["status"] == "failed"
    assert item["media_type"] == "video"
    assert item["prompt"] == "What is happening in this video?"
    assert TIMESTAMP.fullmatch(item["created_at"]), item["created_at"]
    assert TIMESTAMP.fullmatch(item["completed_at"]), item["completed_at"]
    assert datetime.fromisoformat(item["completed_at"]) >= datetime.fromisoformat(
        item["created_at"]
    )
    pagination = body["pagination"]
    assert pagination["page"] == 1
    assert pagination["per_page"] == 20
    assert isinstance(pagination["total"], int)
    assert pagination["total"] >= 1
    assert pagination["total_pages"] == -(-pagination["total"] // 20)
