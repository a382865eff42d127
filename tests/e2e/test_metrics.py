"""GET /metrics: Prometheus text with request counts and latencies per route
template, events produced, and the projector's lag per partition."""

from __future__ import annotations

import re
from uuid import uuid4

import httpx
import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.stack


def samples(client: httpx.Client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_metrics_count_requests_events_and_projector_lag(
    client: httpx.Client, gone_media_url: str
) -> None:
    posted = client.post(
        "/api/media/analyze",
        json={
            "prompt": f"metrics {uuid4()}",
            "media_url": gone_media_url,
            "media_type": "document",
        },
    )
    assert posted.status_code == 202
    client.get(f"/api/media/status/{posted.json()['analysis_id']}")
    client.get(f"/api/media/status/{uuid4()}")

    found = samples(client)
    status_route = 'route="/api/media/status/{analysis_id}"'
    assert (
        found[f'media_analysis_http_requests_total{{method="GET",{status_route},status="200"}}']
        >= 1
    )
    assert (
        found[f'media_analysis_http_requests_total{{method="GET",{status_route},status="404"}}']
        >= 1
    )
    assert (
        found[
            'media_analysis_http_requests_total{method="POST",route="/api/media/analyze",status="202"}'
        ]
        >= 1
    )
    assert (
        found[f'media_analysis_http_request_duration_seconds_count{{method="GET",{status_route}}}']
        >= 2
    )
    assert (
        found['media_analysis_events_produced_total{type="media-analysis.analysis.requested"}'] >= 1
    )
    assert not any(re.search(r"route=\"/api/media/status/[0-9a-f]{8}-", k) for k in found)

    def caught_up() -> bool:
        now = samples(client)
        lags = {k: v for k, v in now.items() if k.startswith("media_analysis_projector_lag_events")}
        return (
            now["media_analysis_projector_lag_known"] == 1
            and len(lags) == 3
            and set(lags.values()) == {0}
        )

    wait_until(caught_up, timeout=30, interval=0.5, what="projector lag 0 on all 3 partitions")
