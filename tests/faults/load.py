"""A steady, bounded POST load on 127.0.0.1 in a background thread."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    sent: int = 0
    accepted: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    # (status, seconds) of every answer that was not 202
    refusals: list[tuple[int, float]] = field(default_factory=list)


class SteadyLoad:
    """POST one analysis every ``interval`` seconds until stopped or ``limit`` sent."""

    def __init__(self, base_url: str, media_url: str, *, interval: float, limit: int) -> None:
        self.result = LoadResult()
        self._base_url = base_url
        self._media_url = media_url
        self._interval = interval
        self._limit = limit
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> LoadResult:
        self._stop.set()
        self._thread.join(timeout=60)
        return self.result

    def _post(self, client: httpx.Client, body: dict[str, str]) -> None:
        began = time.monotonic()
        try:
            response = client.post("/api/media/analyze", json=body)
            status = response.status_code
        except httpx.HTTPError:
            status = 0  # no answer at all (counted, never a 202)
        took = time.monotonic() - began
        with self._lock:
            self.result.statuses[status] = self.result.statuses.get(status, 0) + 1
            if status == 202:
                self.result.accepted.append(str(response.json()["analysis_id"]))
            else:
                self.result.refusals.append((status, took))

    def _run(self) -> None:
        # Requests leave at a steady rate whatever their latency: a slow answer
        # (the API waits for read-your-writes) must not slow the load down.
        body = {"prompt": "What is this?", "media_url": self._media_url, "media_type": "video"}
        limits = httpx.Limits(max_connections=16)
        with (
            httpx.Client(base_url=self._base_url, timeout=15, limits=limits) as client,
            ThreadPoolExecutor(max_workers=16) as pool,
        ):
            while not self._stop.is_set() and self.result.sent < self._limit:
                self.result.sent += 1
                pool.submit(self._post, client, body)
                self._stop.wait(self._interval)
