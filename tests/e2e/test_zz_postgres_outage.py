"""PostgreSQL stopped under the running services: readiness and every endpoint
that needs it answer 503 quickly with a clear detail; once it is back, the
services recover on their own (no restart).

The module name sorts last among the stack tests; it restarts PostgreSQL and
waits for readiness before it returns either way, since the session shares it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import ROOT, wait_until, with_ops_port

pytestmark = pytest.mark.stack

QUICK = 5.0  # seconds: "quickly" for an endpoint whose database is down


def postgres(action: str) -> None:
    # run-tests.sh exported MA_STATE_DIR and MA_PG_PORT: this is the suite's own cluster.
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), action], check=True, timeout=90)


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def ready(client: httpx.Client) -> bool:
    return client.get("/readyz").status_code == 200


@contextmanager
def postgres_stopped(client: httpx.Client) -> Iterator[None]:
    postgres("stop")
    try:
        yield
    finally:
        postgres("start")
        wait_until(lambda: ready(client), timeout=60, interval=0.5, what="/readyz after restart")


def submit(client: httpx.Client, media_url: str, **headers: str) -> httpx.Response:
    return client.post(
        "/api/media/analyze",
        json={
            "prompt": f"outage {uuid4()}",
            "media_url": media_url,
            "media_type": "image",
        },
        headers=headers,
    )


def test_postgres_down_answers_503_quickly_and_recovers_without_restart(
    client: httpx.Client,
    services: dict[str, Any],
    gone_media_url: str,
    prepared: dict[str, str],
    ops_ports: dict[str, int],
) -> None:
    projector_ready = with_ops_port(services, prepared, ops_ports, "projector") + "/readyz"
    wait_until(lambda: answers(projector_ready), timeout=90, what="the projector's /readyz")
    before = submit(client, gone_media_url)
    assert before.status_code == 202
    known = before.json()["analysis_id"]

    with postgres_stopped(client):
        readiness, took = timed(lambda: client.get("/readyz"))
        assert readiness.status_code == 503
        assert took < QUICK
        problem = readiness.json()
        assert problem["detail"] == "Not ready: postgres unreachable."
        assert problem["checks"]["kafka"] == "ok"
        assert problem["checks"]["postgres"] != "ok"
        # The projector's own readiness says the same, on its own port.
        projector, took = timed(lambda: httpx.get(projector_ready, timeout=10))
        assert projector.status_code == 503, projector.text
        assert took < QUICK
        assert projector.json()["checks"]["postgres"] != "ok"
        assert projector.json()["checks"]["kafka"] == "ok"

        for call in (
            lambda: client.get(f"/api/media/status/{known}"),
            lambda: client.get("/api/media/history"),
            lambda: client.delete(f"/api/media/{known}"),
            lambda: submit(client, gone_media_url, **{"Idempotency-Key": str(uuid4())}),
        ):
            response, took = timed(call)
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["detail"].startswith("PostgreSQL is unavailable")
            assert took < QUICK

        # Kafka is up, so a plain POST is still recorded and answered at once.
        during, took = timed(lambda: submit(client, gone_media_url))
        assert during.status_code == 202
        assert took < QUICK + 2
        recorded_during_outage = during.json()["analysis_id"]

    assert all(s.process.poll() is None for s in services.values())
    wait_until(
        lambda: answers(projector_ready),
        timeout=30,
        what="the projector's /readyz after the restart",
    )
    assert client.get(f"/api/media/status/{known}").status_code == 200
    # The projector resumes by itself and applies what was recorded meanwhile.
    wait_until(
        lambda: client.get(f"/api/media/status/{recorded_during_outage}").status_code == 200,
        timeout=30,
        what="the analysis recorded during the outage",
    )
    assert client.delete(f"/api/media/{known}").status_code == 204
