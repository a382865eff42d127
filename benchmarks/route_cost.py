"""CPU per request of each hot route with the network taken away: the API app
called in-process as ASGI (no uvicorn, no sockets, no load generator), 20
requests at a time, against the real Kafka and PostgreSQL of a running stack.
The gap between a route and ``/healthz`` is the route's own work; ``/healthz``
is what FastAPI and our middleware cost per request on this machine.

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... PYTHONPATH=. .venv/bin/python \\
        benchmarks/route_cost.py [requests]

Writes benchmarks/results/route_cost.json (median of three rounds per route).
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

from entrypoints.app import build_app
from infra.settings import Settings

OUT = Path(__file__).resolve().parent / "results" / "route_cost.json"
BODY = json.dumps(
    {"prompt": "cost", "media_url": "http://127.0.0.1:9/missing.mp4", "media_type": "video"}
).encode()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def call(app: Any, method: str, path: str, body: bytes = b"", query: bytes = b"") -> bytes:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    sent = False
    answer: list[Any] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.append(message["status"])
        elif message["type"] == "http.response.body":
            answer.append(message.get("body", b""))

    await app(scope, receive, send)
    if answer[0] >= 300:
        raise RuntimeError(f"{method} {path}: {answer[0]} {answer[1:]!r}")
    return b"".join(answer[1:])


async def measure(make: Callable[[int], Awaitable[bytes]], n: int) -> float:
    for i in range(50):
        await make(i)  # warm: prepared statements, caches
    started = _cpu()
    for k in range(0, n, 20):
        await asyncio.gather(*(make(k + j) for j in range(20)))
    return 1e6 * (_cpu() - started) / n


async def main(n: int) -> None:
    app = build_app(Settings())
    async with app.router.lifespan_context(app):
        created = [
            json.loads(await call(app, "POST", "/api/media/analyze", BODY))["analysis_id"]
            for _ in range(100)
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the projector shows the last one
            try:
                await call(app, "GET", f"/api/media/status/{created[-1]}")
                break
            except RuntimeError:
                await asyncio.sleep(0.2)
        routes: dict[str, Callable[[int], Awaitable[bytes]]] = {
            "GET /healthz": lambda i: call(app, "GET", "/healthz"),
            "GET /api/media/status/{id}": lambda i: call(
                app, "GET", f"/api/media/status/{created[i % len(created)]}"
            ),
            "POST /api/media/analyze": lambda i: call(app, "POST", "/api/media/analyze", BODY),
            "GET /api/media/history (page 1-10)": lambda i: call(
                app, "GET", "/api/media/history", query=f"page={1 + i % 10}".encode()
            ),
        }
        results = {}
        for name, make in routes.items():
            rounds = [await measure(make, n) for _ in range(3)]
            results[name] = {
                "cpu_us_per_request": round(statistics.median(rounds)),
                "rounds": [round(r) for r in rounds],
            }
            print(f"{name:40s} {results[name]}", flush=True)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"requests_per_round": n, "routes": results}, indent=2) + "\n")


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
