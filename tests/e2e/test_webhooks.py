"""Webhooks end to end: the notifier as a process of its own, receivers on
loopback that verify every delivery with the ``standardwebhooks`` library.

The notifier here retries on a short schedule (WEBHOOK_RETRY_SCHEDULE) and may
reach 127.0.0.1 only, so the address-policy tests can put listeners on other
loopback addresses and show that nothing reaches them.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from read_model.webhooks import new_secret
from tests.conftest import (
    MediaServer,
    Service,
    free_port,
    wait_for_status,
    wait_ready,
    wait_until,
)
from tests.e2e.test_access_control import client_for, create_key, keys_cli

SECRET = new_secret()
SUBMITTED: list[str] = []
"""This module's analyses, for the audit (others in the suite name any webhook_url)."""
SCHEDULE = "0.5,1,2,4,8,8,8"
"""Attempts about 0.5, 1.5, 3.5, 7.5, 15.5, 23.5 and 31.5 s after the first."""


class V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class Receiver:
    """An HTTP server on ``host`` that records every request and answers with the
    next of ``answers`` (then 200). ``redirect_to`` answers 307 to that URL instead."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        answers: list[int] | None = None,
        redirect_to: str = "",
        port: int = 0,
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers = list(answers or [])
        self.redirect_to = redirect_to
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": body, "at": time.time()}
                )
                if receiver.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                else:
                    self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        family_host = host.strip("[]")
        server_class = V6Server if ":" in family_host else ThreadingHTTPServer
        self.server = server_class((family_host, port), Handler)
        port = self.server.server_address[1]
        self.url = f"http://{host}:{port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def verified(self) -> list[dict[str, Any]]:
        """Every request's body as ``standardwebhooks`` verified it (raises otherwise)."""
        return [Webhook(SECRET).verify(r["body"], r["headers"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def notifier_env(prepared: dict[str, str]) -> dict[str, str]:
    return {
        **prepared,
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
        "WEBHOOK_POLL_SECONDS": "0.2",
        "WEBHOOK_TIMEOUT_SECONDS": "3",
        # Narrowed: the media fetcher's networks count for webhooks too.
        "MEDIA_FETCH_ALLOWED_NETWORKS": "127.0.0.1/32",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    }


@pytest.fixture(scope="module")
def notifier(services: Any, notifier_env: dict[str, str]) -> Iterator[list[Service]]:
    """The running notifier (a list: the kill test replaces it)."""
    running = [Service("notifier", "notifier", notifier_env)]
    yield running
    running[-1].stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def submit(client: httpx.Client, media_url: str, webhook_url: str, **extra: Any) -> str:
    response = client.post(
        "/api/media/analyze",
        json={
            "prompt": "What is in it?",
            "media_url": media_url,
            "media_type": "video",
            "webhook_url": webhook_url,
            **extra,
        },
    )
    assert response.status_code == 202, response.text
    analysis_id: str = response.json()["analysis_id"]
    SUBMITTED.append(analysis_id)
    return analysis_id


def deliveries(client: httpx.Client, analysis_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/media/{analysis_id}/deliveries")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def settled(client: httpx.Client, analysis_id: str, timeout: float) -> dict[str, Any]:
    """The analysis's one delivery once it is delivered or finally failed."""

    def done() -> dict[str, Any] | None:
        found = deliveries(client, analysis_id)
        return found[0] if found and found[0]["status"] in ("delivered", "failed") else None

    result: dict[str, Any] = wait_until(done, timeout=timeout, interval=0.2, what="a delivery")
    return result


def test_a_completed_analysis_gets_exactly_one_verified_completed_webhook(
    client: httpx.Client, notifier: Any, media_server: MediaServer, receiver: Receiver
) -> None:
    analysis_id = submit(client, media_server.url("clip.mp4"), receiver.url)
    status = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=180)
    assert status["status"] == "completed"
    delivery = settled(client, analysis_id, timeout=90)
    assert delivery["status"] == "delivered"
    time.sleep(1)  # nothing else arrives
    (payload,) = receiver.verified()
    assert payload["type"] == "media-analysis.analysis.completed"
    assert payload["data"]["status"] == "completed"
    assert payload["data"]["progress"] == 100
    assert payload["data"] == client.get(f"/api/media/status/{analysis_id}").json()
    assert receiver.requests[0]["headers"]["webhook-id"] == delivery["delivery_id"]
    assert payload["event_id"] == delivery["event_id"]


def test_a_receiver_that_fails_twice_gets_it_on_the_third_attempt_with_the_same_id(
    client: httpx.Client, notifier: Any, gone_media_url: str
) -> None:
    receiver = Receiver(answers=[500, 500])
    try:
        analysis_id = submit(client, gone_media_url, receiver.url)
        delivery = settled(client, analysis_id, timeout=90)
        assert delivery["status"] == "delivered"
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
        assert all(a["next_attempt_at"] for a in delivery["attempts"][:2])
        assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
        assert [p["type"] for p in receiver.verified()] == ["media-analysis.analysis.failed"] * 3
    finally:
        receiver.close()


def test_a_receiver_down_for_the_first_20_seconds_still_gets_it(
    client: httpx.Client, notifier: Any, gone_media_url: str
) -> None:
    port = free_port()
    submitted = time.monotonic()
    analysis_id = submit(client, gone_media_url, f"http://127.0.0.1:{port}/hook")
    wait_until(
        lambda: (found := deliveries(client, analysis_id)) and found[0]["attempts"],
        timeout=60,
        what="a first, failed attempt",
    )
    time.sleep(max(0.0, 20 - (time.monotonic() - submitted)))
    receiver = Receiver(port=port)
    try:
        delivery = settled(client, analysis_id, timeout=90)
        assert delivery["status"] == "delivered"
        assert "cannot connect" in delivery["attempts"][0]["error"]
        assert len(receiver.verified()) == 1
    finally:
        receiver.close()


def test_a_notifier_killed_between_attempts_completes_the_delivery_after_restart(
    client: httpx.Client,
    notifier: list[Service],
    notifier_env: dict[str, str],
    gone_media_url: str,
) -> None:
    receiver = Receiver(answers=[500, 500, 500])
    try:
        analysis_id = submit(client, gone_media_url, receiver.url)
        # Between attempts: the first one answered and recorded, the next one scheduled.
        wait_until(
            lambda: (found := deliveries(client, analysis_id)) and found[0]["attempts"],
            timeout=60,
            what="a first attempt recorded",
        )
        notifier[-1].process.send_signal(signal.SIGKILL)
        notifier[-1].process.wait()
        notifier[-1].stop()
        notifier.append(Service("notifier", "notifier", notifier_env))
        delivery = settled(client, analysis_id, timeout=90)
        assert delivery["status"] == "delivered"
        attempts = delivery["attempts"]
        # The schedule went on where it stopped: attempt numbers continue.
        assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
        assert attempts[-1]["status_code"] == 200
        assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
        assert len(receiver.verified()) >= len(attempts)
    finally:
        receiver.close()


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]"])
def test_a_webhook_to_a_refused_address_fails_with_the_reason_and_reaches_nothing(
    client: httpx.Client, notifier: Any, gone_media_url: str, host: str
) -> None:
    listener = Receiver(host=host)
    try:
        analysis_id = submit(client, gone_media_url, listener.url)
        delivery = settled(client, analysis_id, timeout=90)
        assert delivery["status"] == "failed"
        (attempt,) = delivery["attempts"]
        assert "refused" in attempt["error"]
        assert "loopback" in attempt["error"]
        assert listener.requests == []
    finally:
        listener.close()


def test_a_webhook_to_the_metadata_address_fails_with_the_reason(
    client: httpx.Client, notifier: Any, gone_media_url: str
) -> None:
    analysis_id = submit(client, gone_media_url, "http://169.254.169.254/latest/meta-data")
    delivery = settled(client, analysis_id, timeout=90)
    assert delivery["status"] == "failed"
    assert "link-local" in delivery["attempts"][0]["error"]


def test_a_redirect_to_a_refused_address_is_not_followed(
    client: httpx.Client, notifier: Any, gone_media_url: str
) -> None:
    inside = Receiver(host="127.0.0.2")
    outside = Receiver(redirect_to=inside.url)
    try:
        analysis_id = submit(client, gone_media_url, outside.url)
        delivery = settled(client, analysis_id, timeout=90)
        assert delivery["status"] == "failed"
        assert "127.0.0.2 is a loopback address" in delivery["attempts"][0]["error"]
        assert len(outside.requests) == 1
        assert inside.requests == []
    finally:
        inside.close()
        outside.close()


def test_retry_sends_a_delivered_webhook_again_with_the_same_id(
    client: httpx.Client, notifier: Any, gone_media_url: str, receiver: Receiver
) -> None:
    analysis_id = submit(
        client, gone_media_url, receiver.url, webhook_events=["failed", "progressed"]
    )
    wait_until(
        lambda: any(
            d["status"] == "delivered" and d["event_type"].endswith(".failed")
            for d in deliveries(client, analysis_id)
        ),
        timeout=60,
        what="the failed webhook delivered",
    )
    failed = next(d for d in deliveries(client, analysis_id) if d["event_type"].endswith(".failed"))
    response = client.post(f"/api/media/{analysis_id}/deliveries/{failed['delivery_id']}/retry")
    assert response.status_code == 202, response.text
    wait_until(
        lambda: (
            sum(r["headers"]["webhook-id"] == failed["delivery_id"] for r in receiver.requests) == 2
        ),
        timeout=60,
        what="the webhook sent again",
    )
    assert {p["type"] for p in receiver.verified()} <= {
        "media-analysis.analysis.failed",
        "media-analysis.analysis.progressed",
    }
    unknown = client.post(
        f"/api/media/{analysis_id}/deliveries/00000000-0000-0000-0000-000000000000/retry"
    )
    assert unknown.status_code == 404


@pytest.fixture(scope="module")
def auth_url(services: Any, prepared: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """A second API with keys required (the session's projector and processor serve it)."""
    env = {**prepared, "API_PORT": str(free_port()), "API_AUTH_REQUIRED": "true"}
    api = Service("api-auth-webhooks", "api", env)
    url = f"http://127.0.0.1:{env['API_PORT']}"
    try:
        wait_ready([api], url)
        yield url, env
    finally:
        api.stop()


def test_a_tenants_webhooks_are_signed_with_its_own_secret_and_hidden_from_others(
    notifier: Any,
    auth_url: tuple[str, dict[str, str]],
    gone_media_url: str,
    receiver: Receiver,
) -> None:
    url, env = auth_url
    _, tenant, key = create_key(env)
    _, _, other_key = create_key(env)
    out = keys_cli(env, "webhook-secret", "--tenant", tenant)
    tenant_secret = out.strip().splitlines()[-1]
    assert tenant_secret.startswith("whsec_")
    with client_for(url, key) as owner, client_for(url, other_key) as other:
        analysis_id = submit(owner, gone_media_url, receiver.url)
        delivery = settled(owner, analysis_id, timeout=90)
        assert delivery["status"] == "delivered"
        (request,) = receiver.requests
        assert Webhook(tenant_secret).verify(request["body"], request["headers"])
        with pytest.raises(WebhookVerificationError):
            Webhook(SECRET).verify(request["body"], request["headers"])
        assert other.get(f"/api/media/{analysis_id}/deliveries").status_code == 404
        retry = other.post(f"/api/media/{analysis_id}/deliveries/{delivery['delivery_id']}/retry")
        assert retry.status_code == 404


def test_every_terminal_event_with_a_webhook_was_delivered_or_finally_failed(
    notifier: Any, prepared: dict[str, str]
) -> None:
    """The audit, over every analysis this module asked webhooks for."""

    async def unsettled() -> list[Any]:
        conn = await asyncpg.connect(prepared["DATABASE_URL"].replace("+asyncpg", ""))
        try:
            return list(
                await conn.fetch(
                    """
                    SELECT s.analysis_id, r.status,
                           array_agg(d.status) FILTER (WHERE d.id IS NOT NULL) AS deliveries
                    FROM webhook_subscription s
                    JOIN analysis_request r ON r.id = s.analysis_id
                    LEFT JOIN webhook_delivery d ON d.analysis_id = s.analysis_id
                      AND d.event_type LIKE '%.' || r.status
                    WHERE r.status IN ('completed', 'failed')
                      AND s.analysis_id::text = ANY($1::text[])
                    GROUP BY s.analysis_id, r.status
                    HAVING NOT coalesce(bool_or(d.status IN ('delivered', 'failed')), false)
                       OR count(d.id) <> 1
                    """,
                    SUBMITTED,
                )
            )
        finally:
            await conn.close()

    assert len(SUBMITTED) >= 10
    assert asyncio.run(unsettled()) == []
