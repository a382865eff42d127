"""The bad-input catalogue: each malformed or hostile request with the answer it
gets (a problem+json 4xx that names the field where there is one), and proof
that none of them recorded an event."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

GOOD = {"prompt": "p", "media_url": "https://example.com/a.mp4", "media_type": "video"}


def _nested(levels: int) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for _ in range(levels - 1):
        config = {"a": config}
    return config


def _json(body: Any) -> dict[str, Any]:
    return {"content": json.dumps(body), "headers": {"Content-Type": "application/json"}}


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"prompt": "'
    for _ in range(total // 65536):
        yield b"x" * 65536
    yield b'"}'


# (case, method, path, request kwargs, status, text the detail or an error must contain)
POSTS: list[tuple[str, dict[str, Any], int, str]] = [
    (
        "malformed JSON",
        {"content": b'{"prompt": ', "headers": {"Content-Type": "application/json"}},
        400,
        "JSON",
    ),
    ("JSON that is not an object", _json([1, 2]), 400, "body"),
    ("JSON null", _json(None), 400, "body"),
    ("empty body", {"content": b"", "headers": {"Content-Type": "application/json"}}, 400, "body"),
    ("empty object", _json({}), 400, "prompt"),
    (
        "wrong content type",
        {"content": b"prompt=p", "headers": {"Content-Type": "text/plain"}},
        415,
        "application/json",
    ),
    ("form encoded", {"data": {"prompt": "p"}}, 415, "application/json"),
    (
        "body over API_MAX_BODY_BYTES",
        _json({**GOOD, "prompt": "x" * 2_000_000}),
        413,
        "larger than",
    ),
    (
        "chunked body over the limit, no length",
        {"content": _chunks(2_000_000), "headers": {"Content-Type": "application/json"}},
        413,
        "larger than",
    ),
    (
        "config nested 10,000 levels",
        {
            "content": '{"config": ' + '{"a": ' * 10_000 + "{}" + "}" * 10_001,
            "headers": {"Content-Type": "application/json"},
        },
        400,
        "pars",
    ),
    ("config nested 100 levels", _json({**GOOD, "config": _nested(100)}), 422, "config"),
    ("config over 16 KiB", _json({**GOOD, "config": {"k": "v" * 20_000}}), 422, "config"),
    (
        "non-UTF-8 bytes",
        {
            "content": b'{"prompt": "\xff\xfe", "media_url": "https://e.com", "media_type": "video"}',
            "headers": {"Content-Type": "application/json"},
        },
        400,
        "parsing the body",
    ),
    ("NUL in the prompt", _json({**GOOD, "prompt": "a\x00b"}), 422, "prompt"),
    ("prompt over 10,000 characters", _json({**GOOD, "prompt": "x" * 10_001}), 422, "prompt"),
    ("empty prompt", _json({**GOOD, "prompt": ""}), 422, "prompt"),
    ("missing media_url", _json({"prompt": "p", "media_type": "video"}), 400, "media_url"),
    (
        "missing prompt",
        _json({"media_url": GOOD["media_url"], "media_type": "video"}),
        400,
        "prompt",
    ),
    (
        "missing media_type",
        _json({"prompt": "p", "media_url": GOOD["media_url"]}),
        400,
        "media_type",
    ),
    ("media_url null", _json({**GOOD, "media_url": None}), 422, "media_url"),
    ("file: URL", _json({**GOOD, "media_url": "file:///etc/passwd"}), 422, "media_url"),
    ("gopher: URL", _json({**GOOD, "media_url": "gopher://127.0.0.1:70/_x"}), 422, "media_url"),
    ("data: URL", _json({**GOOD, "media_url": "data:video/mp4;base64,AAAA"}), 422, "media_url"),
    (
        "URL over 2,083 characters",
        _json({**GOOD, "media_url": "https://e.com/" + "a" * 3000}),
        422,
        "media_url",
    ),
    ("unknown media_type", _json({**GOOD, "media_type": "hologram"}), 422, "media_type"),
    ("unknown field", _json({**GOOD, "priority": "high"}), 422, "priority"),
    ("max_tokens below 1", _json({**GOOD, "config": {"max_tokens": -1}}), 422, "config.max_tokens"),
    (
        "temperature above 2",
        _json({**GOOD, "config": {"temperature": 9}}),
        422,
        "config.temperature",
    ),
    (
        "options of the wrong type",
        _json({**GOOD, "options": {"extract_frames": "sometimes"}}),
        422,
        "options",
    ),
]

BAD_ID = "12345' OR '1'='1"
GETS: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    (
        "status of a non-UUID",
        "GET",
        f"/api/media/status/{BAD_ID}",
        {},
        400,
        "not a valid analysis id",
    ),
    ("delete a non-UUID", "DELETE", "/api/media/not-a-uuid", {}, 400, "not a valid analysis id"),
    ("events of a non-UUID", "GET", "/api/media/123/events", {}, 400, "not a valid analysis id"),
    (
        "artifact of a non-UUID",
        "GET",
        "/api/media/xyz/artifacts/thumbnail.jpg",
        {},
        400,
        "not a valid analysis id",
    ),
    (
        "artifact name with a path",
        "GET",
        f"/api/media/{uuid4()}/artifacts/..%2F..%2Fetc%2Fpasswd",
        {},
        404,
        "not found",
    ),
    ("status of an unknown id", "GET", f"/api/media/status/{uuid4()}", {}, 404, "No analysis"),
    # Query parameters: 400 naming the parameter (a body field present but invalid answers 422).
    ("SQL in status", "GET", "/api/media/history", {"status": "' OR 1=1--"}, 400, "status"),
    (
        "SQL in media_type",
        "GET",
        "/api/media/history",
        {"media_type": "video'; DROP TABLE analysis_request;--"},
        400,
        "media_type",
    ),
    (
        "SQL in sort_by",
        "GET",
        "/api/media/history",
        {"sort_by": "created_at; DELETE FROM analysis_request"},
        400,
        "sort_by",
    ),
    (
        "SQL in order",
        "GET",
        "/api/media/history",
        {"order": "desc, (SELECT pg_sleep(5))"},
        400,
        "order",
    ),
    (
        "SQL in date_from",
        "GET",
        "/api/media/history",
        {"date_from": "2026-01-01'; DROP TABLE x;--"},
        400,
        "date_from",
    ),
    ("page 0", "GET", "/api/media/history", {"page": 0}, 400, "page"),
    ("page -1", "GET", "/api/media/history", {"page": -1}, 400, "page"),
    ("page 10**30", "GET", "/api/media/history", {"page": 10**30}, 400, "page"),
    ("page as text", "GET", "/api/media/history", {"page": "abc"}, 400, "page"),
    ("per_page 0", "GET", "/api/media/history", {"per_page": 0}, 400, "per_page"),
    ("per_page 10**6", "GET", "/api/media/history", {"per_page": 10**6}, 400, "per_page"),
    (
        "a forged cursor",
        "GET",
        "/api/media/history",
        {"cursor": "eyJub3QiOiAiYSBjdXJzb3IifQ"},
        400,
        "cursor",
    ),
    (
        "date_from after date_to",
        "GET",
        "/api/media/history",
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        400,
        "date_from",
    ),
]


def _events_produced(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("media_analysis_events_produced_total{")
    )


def _problem_text(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = response.json()
    return " ".join([body.get("detail", ""), *(json.dumps(e) for e in body.get("errors", []))])


@pytest.mark.parametrize(("case", "kwargs", "status", "says"), POSTS, ids=[p[0] for p in POSTS])
def test_bad_submissions(
    client: httpx.Client, case: str, kwargs: dict[str, Any], status: int, says: str
) -> None:
    before = _events_produced(client)
    response = client.post("/api/media/analyze", **kwargs)
    assert response.status_code == status, (case, response.text[:500])
    assert re.search(says, _problem_text(response), re.IGNORECASE), (case, response.text[:500])
    assert _events_produced(client) == before, f"{case}: an event was recorded"


@pytest.mark.parametrize(
    ("case", "method", "path", "params", "status", "says"), GETS, ids=[g[0] for g in GETS]
)
def test_bad_reads_and_deletes(
    client: httpx.Client,
    case: str,
    method: str,
    path: str,
    params: dict[str, Any],
    status: int,
    says: str,
) -> None:
    before = _events_produced(client)
    response = client.request(method, path, params=params)
    assert response.status_code == status, (case, response.text[:500])
    assert says.lower() in _problem_text(response).lower(), (case, response.text[:500])
    assert _events_produced(client) == before
