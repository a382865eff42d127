"""An open-loop HTTP/1.1 load generator.

Requests are scheduled at a fixed rate whatever the server does, and each
latency is measured from the request's *scheduled* time, so a slow server
cannot hide its queueing (no coordinated omission). Keep-alive connections are
pooled; a request that finds no idle connection opens one (up to a cap) or
waits, and that wait counts in its latency. Loopback targets only.

Two implementations of those semantics. With ``BENCH_LOADGEN`` naming the Go
binary of ``benchmarks/loadgen/`` (scripts/bench.sh builds it and sets it), a
run without ``keep_bodies`` or ``follow_up`` is sent by that binary: it costs
the shared machine about half the CPU per request of the Python one below
(60-80 against 130-170 µs at 1,000 req/s), which remains for the runs that need
the answers' bodies and for when the variable is unset.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

Request = tuple[str, str, bytes | None]
"""(method, path with query, JSON body or None)."""


@dataclass
class Result:
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    bodies: list[bytes] = field(default_factory=list)
    follow_latencies: list[float] = field(default_factory=list)
    """With ``follow_up``: from the first answer to the follow-up's answer."""
    follow_statuses: Counter[int] = field(default_factory=Counter)
    answers: list[tuple[float, float, int, bytes]] = field(default_factory=list)
    """With ``keep_answers``: (scheduled, answered, status, body) of every answer, and
    (scheduled, answered, 0, b"") of every request that got none."""
    generator_cpu_seconds: float | None = None
    """The Go generator's own CPU (user + system) for the run; None on the Python path,
    whose CPU is this process's and mixed with whatever else it runs meanwhile."""

    def summary(self) -> dict[str, float | int | dict[str, int]]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

        sent = len(lat) + sum(self.errors.values())
        return {
            "target_rate": self.rate,
            "achieved_rate": round(len(lat) / self.seconds, 1) if self.seconds else 0.0,
            "requests": sent,
            "ok": sum(n for s, n in self.statuses.items() if s < 400),
            "non_2xx": sum(n for s, n in self.statuses.items() if s >= 400),
            "errors": sum(self.errors.values()),
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "max_ms": round(lat[-1] * 1000, 2) if lat else 0.0,
            "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "error_types": dict(self.errors),
            **(self._follow_summary() if self.follow_statuses else {}),
        }

    def _follow_summary(self) -> dict[str, float | int | dict[str, int]]:
        lat = sorted(self.follow_latencies)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2)

        return {
            "follow_ups": len(lat),
            "follow_p50_ms": pct(0.50),
            "follow_p95_ms": pct(0.95),
            "follow_p99_ms": pct(0.99),
            "follow_max_ms": round(lat[-1] * 1000, 2),
            "follow_statuses": {str(k): v for k, v in sorted(self.follow_statuses.items())},
        }


IDLE_REUSE_SECONDS = 4.0
"""uvicorn closes keep-alive connections idle for 5 s; reusing one that old races
that close and fails a request the server never saw, as a real client would not."""


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection as an asyncio protocol: a request is one
    ``write`` and its answer is parsed from what arrives. Cheaper per request than
    stream readers (about half the generator's CPU), which matters when the
    generator shares the machine with what it measures."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.idle_since = time.perf_counter()
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        length = 0
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        total = end + 4 + length
        if len(self._buffer) < total:
            return
        status = int(head[9:12])
        payload = bytes(self._buffer[end + 4 : total])
        del self._buffer[:total]
        waiter.set_result((status, payload))

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection closed"))

    async def send(self, host: str, request: Request) -> tuple[int, bytes]:
        if self._closed or self.transport is None:
            raise ConnectionError("connection closed")
        method, path, body = request
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head.encode() + b"\r\n" + (body or b""))
        return await self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def run(
    base_url: str,
    make_request: Callable[[int], Request],
    *,
    rate: float,
    seconds: float,
    max_connections: int = 256,
    keep_bodies: bool = False,
    keep_answers: bool = False,
    request_timeout: float = 10.0,
    follow_up: Callable[[int, bytes], Request | None] | None = None,
) -> Result:
    """Send ``rate`` requests per second for ``seconds``; ``make_request(i)`` builds the i-th.

    ``follow_up(status, body)``, when given, builds a second request sent on the same
    connection as soon as the first is answered (a read of what was just written);
    its latency, from that answer, is kept apart in ``follow_latencies``."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    assert host in ("127.0.0.1", "localhost", "::1"), "load goes to loopback only"
    binary = os.environ.get("BENCH_LOADGEN")
    if binary and not keep_bodies and not keep_answers and follow_up is None:
        return await _run_compiled(
            binary,
            base_url,
            make_request,
            rate=rate,
            seconds=seconds,
            max_connections=max_connections,
            request_timeout=request_timeout,
        )
    result = Result(rate=rate, seconds=seconds)
    idle: list[_Connection] = []
    every: list[_Connection] = []  # closed at the end, those still busy too
    opened = 0
    slots = asyncio.Semaphore(max_connections)
    start = time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        nonlocal opened
        async with slots:
            conn = idle.pop() if idle else None
            while conn is not None and time.perf_counter() - conn.idle_since > IDLE_REUSE_SECONDS:
                conn.close()
                conn = idle.pop() if idle else None
            try:
                if conn is None:
                    opened += 1
                    _, conn = await asyncio.get_running_loop().create_connection(
                        _Connection, host, port
                    )
                    every.append(conn)
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for wraps the
                # coroutine in a task of its own, a second task per request.
                async with asyncio.timeout(request_timeout):
                    status, payload = await conn.send(host, make_request(i))
            except (
                OSError,
                ConnectionError,
                asyncio.IncompleteReadError,
                TimeoutError,
                RuntimeError,
            ) as exc:  # RuntimeError: uvloop writing to a transport the server closed
                result.errors[type(exc).__name__] += 1
                if keep_answers:
                    result.answers.append((scheduled, time.perf_counter(), 0, b""))
                if conn is not None:
                    conn.close()
                return
            answered = time.perf_counter()
            result.latencies.append(answered - scheduled)
            result.statuses[status] += 1
            if keep_bodies:
                result.bodies.append(payload)
            if keep_answers:
                result.answers.append((scheduled, answered, status, payload))
            then = follow_up(status, payload) if follow_up is not None else None
            if then is not None:
                try:
                    async with asyncio.timeout(request_timeout):
                        second, _ = await conn.send(host, then)
                except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    result.errors[f"follow-up {type(exc).__name__}"] += 1
                    conn.close()
                    return
                result.follow_latencies.append(time.perf_counter() - answered)
                result.follow_statuses[second] += 1
            conn.idle_since = time.perf_counter()
            idle.append(conn)

    tasks: set[asyncio.Task[None]] = set()
    total = int(rate * seconds)
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=request_timeout + 5)
    result.seconds = max(seconds, time.perf_counter() - start)
    for task in tasks:
        task.cancel()
    for conn in every:
        conn.close()
    return result


PLAN_LIMIT = 50_000
"""Requests built for the Go generator; request i sends plan entry i % len(plan)."""

_compiled_cpu = 0.0


def compiled_cpu_seconds() -> float:
    """CPU seconds the Go generators this process ran have used, counted as each
    ends: with ``os.times()`` of this process, what generating load cost."""
    return _compiled_cpu


def _plan(make_request: Callable[[int], Request], count: int) -> bytes:
    lines = []
    for i in range(count):
        method, path, body = make_request(i)
        text = body.decode() if body is not None else None
        lines.append(json.dumps({"method": method, "path": path, "body": text}))
    return ("\n".join(lines) + "\n").encode() if lines else b""


async def _run_compiled(
    binary: str,
    base_url: str,
    make_request: Callable[[int], Request],
    *,
    rate: float,
    seconds: float,
    max_connections: int,
    request_timeout: float,
) -> Result:
    """One run by the Go generator: the plan on its stdin, one line per finished
    request (index, latency in ns, status or error kind) and a JSON trailer on its
    stdout."""
    global _compiled_cpu
    plan = _plan(make_request, min(int(rate * seconds), PLAN_LIMIT))
    process = await asyncio.create_subprocess_exec(
        binary,
        "run",
        f"--url={base_url}",
        f"--rate={rate!r}",
        f"--seconds={seconds!r}",
        f"--max-connections={max_connections}",
        f"--timeout={request_timeout!r}",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate(plan)
    finally:
        if process.returncode is None:  # cancelled: the generator must not outlive the run
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{binary} run exited {process.returncode}: {err.decode().strip()}")
    *lines, trailer = out.splitlines()
    result = Result(rate=rate, seconds=seconds)
    for line in lines:
        _, latency, outcome = line.split()
        if outcome.isdigit():
            result.latencies.append(int(latency) / 1e9)
            result.statuses[int(outcome)] += 1
        else:
            result.errors[outcome.decode()] += 1
    end = json.loads(trailer)
    result.seconds = max(seconds, end["wall_seconds"])
    result.generator_cpu_seconds = end["cpu_seconds"]
    _compiled_cpu += end["cpu_seconds"]
    return result
