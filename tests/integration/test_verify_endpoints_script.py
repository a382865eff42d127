"""scripts/verify-endpoints.sh, the PRD's endpoint checks, passes against the
running stack and fails against a deployment that deviates."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import MediaServer

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify-endpoints.sh"


def verify(base_url: str, media_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), base_url],
        env={**os.environ, "MEDIA_URL": media_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_stack_passes_every_endpoint_check(base_url: str, media_server: MediaServer) -> None:
    result = verify(base_url, media_server.url("gone.mp4"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout + result.stderr
    assert "all endpoint checks passed" in result.stdout
    for check in ("POST /api/media/analyze -> 202", "DELETE /api/media/", "-> 410"):
        assert check in result.stdout


def test_a_deviating_deployment_fails_the_checks(base_url: str, media_server: MediaServer) -> None:
    # Every path under a wrong prefix answers 404: nothing is as the PRD says.
    result = verify(f"{base_url}/not-the-api", media_server.url("gone.mp4"))
    assert result.returncode == 1
    assert "verify: FAIL  POST /api/media/analyze answered 404, the PRD says 202" in result.stderr
    assert "deviates from the PRD" in result.stderr
