"""scripts/smoke-tests.sh, the PRD's smoke test, passes against the running stack."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import MediaServer

ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_script_passes(base_url: str, media_server: MediaServer) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "smoke-tests.sh")],
        env={**os.environ, "BASE_URL": base_url, "MEDIA_URL": media_server.url("clip.mp4")},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke tests passed" in result.stdout
