"""Access control on a second API process with API_AUTH_REQUIRED=true, sharing
the session's Kafka, PostgreSQL, projector and processor: keys from the CLI,
401 without a valid key, every endpoint scoped to the key's tenant (another
tenant's analysis is 404, like an unknown one, and a refused DELETE emits no
event), the tenant on the row and on every event, a per-key rate limit, and the
web console in a browser with a key typed in."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from httpx_sse import connect_sse
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import (
    BIN,
    LOGS,
    MediaServer,
    Service,
    free_port,
    wait_for_status,
    wait_ready,
    wait_until,
)
from tests.e2e.browser import image_loaded, shown, text_of, use_key, wait
from tests.faults.audit import events_by_analysis
from tests.integration.log_tools import sql
from tests.stage_samples import png_image

RATE_PER_MINUTE = 60
OPERATOR_TENANT = str(uuid4())
"""API_OPERATOR_TENANTS of the module's API: its keys may read /api/operations."""


def keys_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "media-analysis"), "keys", *args],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def create_key(env: dict[str, str], tenant: str = "new") -> tuple[str, str, str]:
    """(key id, tenant, key) from `media-analysis keys create`."""
    out = keys_cli(env, "create", "--tenant", tenant, "--name", f"test-{uuid4().hex[:6]}")
    found = re.search(
        r"created key (\S+) for tenant (\S+) .*\nkey \(shown once, store it now\): (\S+)", out
    )
    assert found, out
    return found.group(1), found.group(2), found.group(3)


@pytest.fixture(scope="module")
def auth_env(services: dict[str, Service], prepared: dict[str, str]) -> dict[str, str]:
    return {
        **prepared,
        "API_PORT": str(free_port()),
        "API_AUTH_REQUIRED": "true",
        "API_KEY_CACHE_SECONDS": "0.5",
        "API_RATE_LIMIT_PER_MINUTE": str(RATE_PER_MINUTE),
        "STREAM_HEARTBEAT_SECONDS": "0.5",
        "API_OPERATOR_TENANTS": OPERATOR_TENANT,
    }


@pytest.fixture(scope="module")
def auth_url(auth_env: dict[str, str]) -> Iterator[str]:
    api = Service("api-auth", "api", auth_env)
    url = f"http://127.0.0.1:{auth_env['API_PORT']}"
    try:
        wait_ready([api], url)
        yield url
    finally:
        api.stop()


def client_for(url: str, key: str, header: str = "bearer") -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def two_tenants(
    auth_env: dict[str, str], auth_url: str, media_server: MediaServer
) -> Iterator[dict[str, Any]]:
    """Tenant A with a completed image analysis (it has a thumbnail), tenant B."""
    _, tenant_a, key_a = create_key(auth_env)
    _, tenant_b, key_b = create_key(auth_env)
    name = f"tenant-{uuid4().hex[:8]}.png"
    png_image(media_server.directory / name, "160x120")
    with client_for(auth_url, key_a) as a, client_for(auth_url, key_b, "x-api-key") as b:
        body = {
            "prompt": "whose is this?",
            "media_url": media_server.url(name),
            "media_type": "image",
        }
        accepted = a.post("/api/media/analyze", json=body)
        assert accepted.status_code == 202, accepted.text
        analysis_id = accepted.json()["analysis_id"]
        wait_for_status(a, analysis_id, {"completed"})
        yield {"a": a, "b": b, "id": analysis_id, "tenant_a": tenant_a, "tenant_b": tenant_b}


def test_given_auth_on_when_no_key_or_a_bad_key_then_401_and_probes_stay_open(
    auth_url: str,
) -> None:
    with httpx.Client(base_url=auth_url, timeout=10) as anonymous:
        for method, path in (
            ("GET", f"/api/media/status/{uuid4()}"),
            ("GET", "/api/media/history"),
            ("POST", "/api/media/analyze"),
            ("DELETE", f"/api/media/{uuid4()}"),
            ("GET", f"/api/media/{uuid4()}/events"),
            ("GET", f"/api/media/{uuid4()}/stream"),
            ("GET", "/api/media/stream"),
        ):
            response = anonymous.request(method, path)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.headers["content-type"] == "application/problem+json"
        wrong = anonymous.get("/api/media/history", headers={"Authorization": "Bearer ma_nope"})
        assert wrong.status_code == 401
        assert "not valid" in wrong.json()["detail"]
        for open_path in ("/healthz", "/readyz", "/metrics", "/api/events/asyncapi.json"):
            assert anonymous.get(open_path).status_code == 200, open_path


def test_given_two_tenants_then_each_endpoint_refuses_the_others_analysis_as_unknown(
    two_tenants: dict[str, Any], auth_env: dict[str, str]
) -> None:
    a, b, aid = two_tenants["a"], two_tenants["b"], two_tenants["id"]
    unknown = str(uuid4())

    assert a.get(f"/api/media/status/{aid}").status_code == 200
    assert a.get(f"/api/media/{aid}/events").status_code == 200
    assert a.get(f"/api/media/{aid}/artifacts/thumbnail.jpg").status_code == 200
    own_stream = a.get(f"/api/media/{aid}/stream")  # completed: its final state, then the end
    assert own_stream.status_code == 200
    assert f'"analysis_id":"{aid}"' in own_stream.text
    listed_a = a.get("/api/media/history", params={"per_page": 100}).json()
    assert aid in {item["analysis_id"] for item in listed_a["data"]}

    for path in (
        "/api/media/status/{}",
        "/api/media/{}/events",
        "/api/media/{}/artifacts/thumbnail.jpg",
        "/api/media/{}/stream",
    ):
        theirs, nobodys = b.get(path.format(aid)), b.get(path.format(unknown))
        assert theirs.status_code == nobodys.status_code == 404, path
        assert theirs.json()["detail"].replace(aid, "?") == nobodys.json()["detail"].replace(
            unknown, "?"
        ), "another tenant's id must read exactly like an unknown one"
    listed_b = b.get("/api/media/history", params={"per_page": 100}).json()
    assert aid not in {item["analysis_id"] for item in listed_b["data"]}
    assert listed_b["pagination"]["total"] == len(listed_b["data"]) == 0

    refused = b.delete(f"/api/media/{aid}")
    assert refused.status_code == 404
    events = events_by_analysis(auth_env, {aid})[aid]
    assert [e.type.rsplit(".", 1)[1] for e in events][-1] == "completed", "no deletion recorded"
    assert a.get(f"/api/media/status/{aid}").status_code == 200


def presented_key(client: httpx.Client) -> str:
    return client.headers.get("X-API-Key") or client.headers["Authorization"].split()[1]


def test_given_the_console_when_a_key_is_typed_then_only_its_tenants_analysis_shows(
    two_tenants: dict[str, Any], auth_env: dict[str, str], auth_url: str, browser: WebDriver
) -> None:
    aid = two_tenants["id"]
    key_a, key_b = presented_key(two_tenants["a"]), presented_key(two_tenants["b"])
    browser.get(f"{auth_url}/console/analyses/{aid}")
    assert "API key is required" in text_of(browser, "#key-message")
    use_key(browser, key_b)
    wait(browser).until(lambda d: f"No analysis with id {aid}" in text_of(d, "#error"))
    assert text_of(browser, "#prompt") == ""
    assert not browser.find_elements(By.CSS_SELECTOR, "#frames img")

    browser.find_element(By.ID, "key-forget").click()
    use_key(browser, key_a)
    shown(browser, '#status [data-status="completed"]')
    assert text_of(browser, "#prompt") == "whose is this?"
    image_loaded(browser, shown(browser, "#frames img"))  # the thumbnail, fetched with the key

    browser.get(f"{auth_url}/console/operations")  # the key stays for the tab
    wait(browser).until(lambda d: "Only operators' keys" in text_of(d, "#error"))
    _, _, operator_key = create_key(auth_env, OPERATOR_TENANT)
    browser.find_element(By.ID, "key-forget").click()
    use_key(browser, operator_key)
    assert shown(browser, '#checks [data-check="kafka"]').text == "kafka: ok"

    assert all(k not in browser.current_url for k in (key_a, key_b, operator_key))
    log = (LOGS / "api-auth.log").read_text(errors="replace")
    assert all(k not in log for k in (key_a, key_b, operator_key)), "no key is ever logged"


def test_the_tenant_is_on_the_row_and_on_every_event(
    two_tenants: dict[str, Any], auth_env: dict[str, str]
) -> None:
    aid, tenant_a = two_tenants["id"], two_tenants["tenant_a"]
    rows = sql(
        auth_env["DATABASE_URL"], "SELECT created_by FROM analysis_request WHERE id = $1", UUID(aid)
    )
    assert str(rows[0]["created_by"]) == tenant_a
    events = events_by_analysis(auth_env, {aid})[aid]
    assert {e.type.rsplit(".", 1)[1] for e in events} >= {"requested", "started", "completed"}
    assert {e.tenant_id for e in events} == {tenant_a}


def test_keys_are_stored_hashed_and_a_revoked_key_stops_working(
    auth_env: dict[str, str], auth_url: str
) -> None:
    key_id, _, key = create_key(auth_env)
    stored = sql(auth_env["DATABASE_URL"], "SELECT * FROM api_key WHERE id = $1", UUID(key_id))
    assert len(stored) == 1
    assert key not in " ".join(str(v) for v in stored[0].values()), "no plaintext key at rest"
    assert key_id in keys_cli(auth_env, "list")
    with client_for(auth_url, key) as c:
        assert c.get("/api/media/history").status_code == 200
        assert f"revoked key {key_id}" in keys_cli(auth_env, "revoke", key_id)
        started = time.monotonic()
        wait_until(
            lambda: c.get("/api/media/history").status_code == 401,
            timeout=5,
            what="revoked key refused",
        )
        assert time.monotonic() - started < 5, "API_KEY_CACHE_SECONDS bounds the delay"


def test_given_a_burst_beyond_the_keys_rate_limit_then_429_with_retry_after(
    auth_env: dict[str, str], auth_url: str
) -> None:
    _, _, key = create_key(auth_env)
    with client_for(auth_url, key) as c:
        answers = [
            c.get("/api/media/history", params={"per_page": 1}) for _ in range(RATE_PER_MINUTE + 15)
        ]
    codes = [r.status_code for r in answers]
    assert codes[: RATE_PER_MINUTE - 5].count(200) == RATE_PER_MINUTE - 5, (
        "the burst allowance first"
    )
    limited = [r for r in answers if r.status_code == 429]
    assert limited, codes
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert "Rate limit" in limited[0].json()["detail"]
    _, _, other = create_key(auth_env)
    with client_for(auth_url, other) as fresh:
        assert fresh.get("/api/media/history").status_code == 200, "limits are per key"


def test_a_tenants_idempotency_key_never_returns_another_tenants_analysis(
    two_tenants: dict[str, Any], media_server: MediaServer
) -> None:
    a, b = two_tenants["a"], two_tenants["b"]
    body = {"prompt": "same key", "media_url": media_server.url("clip.mp4"), "media_type": "video"}
    shared = {"Idempotency-Key": f"k-{uuid4().hex}"}
    first = a.post("/api/media/analyze", json=body, headers=shared)
    second = b.post("/api/media/analyze", json=body, headers=shared)
    assert first.status_code == second.status_code == 202
    assert first.json()["analysis_id"] != second.json()["analysis_id"]
    assert "Idempotent-Replayed" not in second.headers


def test_the_stream_of_all_analyses_shows_only_the_callers_own(
    two_tenants: dict[str, Any], gone_media_url: str
) -> None:
    a, b = two_tenants["a"], two_tenants["b"]
    body = {"prompt": "whose stream?", "media_url": gone_media_url, "media_type": "video"}
    with connect_sse(b, "GET", "/api/media/stream") as source:
        events = source.iter_sse()
        assert next(e for e in events if e.event == "ready")
        # A's analysis runs to its end while B's stream is open (its events wait in
        # the socket); then B's own: whatever B was sent about A would come first.
        theirs = a.post("/api/media/analyze", json=body).json()["analysis_id"]
        wait_for_status(a, theirs, {"failed"})
        own = b.post("/api/media/analyze", json=body).json()["analysis_id"]
        seen: list[str] = []
        for event in events:
            if event.event in ("ready", "resync") or not event.data:
                continue  # not a state (an empty one is how httpx-sse hands on a heartbeat)
            state = event.json()
            seen.append(state["analysis_id"])
            if state["analysis_id"] == own and state["status"] == "failed":
                break
    assert own in seen
    assert theirs not in seen


def test_an_idle_stream_sends_heartbeats(two_tenants: dict[str, Any]) -> None:
    with two_tenants["b"].stream("GET", "/api/media/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        comments = (line for line in response.iter_lines() if line.startswith(":"))
        assert next(comments).startswith(": ping")
        assert next(comments).startswith(": ping"), "again and again while idle"
