"""Read-your-writes on the real stack: once POST has answered 202 the status is
there (200), and once DELETE has answered 204 it is gone (410), every time."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.stack


# 400 round trips through Kafka and the projector, then the processor's backlog:
# minutes on a loaded 2-core machine.
@pytest.mark.timeout(1500)
def test_300_posts_then_100_deletes_are_each_visible_at_once(
    client: httpx.Client, gone_media_url: str
) -> None:
    media_url = gone_media_url
    marker = uuid4()
    ids: list[str] = []
    misses: list[str] = []
    for i in range(300):
        posted = client.post(
            "/api/media/analyze",
            json={"prompt": f"ryw {marker} #{i}", "media_url": media_url, "media_type": "video"},
        )
        assert posted.status_code == 202, posted.text
        analysis_id = posted.json()["analysis_id"]
        read = client.get(f"/api/media/status/{analysis_id}")
        if read.status_code != 200:
            misses.append(f"POST {analysis_id}: {read.status_code}")
        ids.append(analysis_id)
    for analysis_id in ids[:100]:
        deleted = client.delete(f"/api/media/{analysis_id}")
        assert deleted.status_code == 204, deleted.text
        read = client.get(f"/api/media/status/{analysis_id}")
        if read.status_code != 410:
            misses.append(f"DELETE {analysis_id}: {read.status_code}")
    assert misses == []

    # Leave no backlog behind: later tests wait for their own analyses behind ours.
    remaining = ids[100:]

    def drained() -> bool:
        while remaining:
            status = client.get(f"/api/media/status/{remaining[0]}").json()["status"]
            if status not in ("completed", "failed"):
                return False
            remaining.pop(0)
        return True

    wait_until(drained, timeout=600, interval=0.5, what="the processor to finish these analyses")
