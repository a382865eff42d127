"""The compiled load generator and media origin (benchmarks/loadgen), through the
Python generator's ``run()`` as the benchmarks call it, against small servers
on 127.0.0.1 started here."""

from __future__ import annotations

import asyncio
import http.client
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import loadgen
from tests.conftest import ROOT, free_port, wait_until

GO = shutil.which("go") or "/usr/local/go/bin/go"


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.access(GO, os.X_OK):
        pytest.skip("no Go toolchain (go on PATH or /usr/local/go/bin/go) to build loadgen")
    out = tmp_path_factory.mktemp("bin") / "loadgen"
    subprocess.run(
        [GO, "build", "-trimpath", "-buildvcs=false", "-o", str(out), "."],
        cwd=ROOT / "benchmarks" / "loadgen",
        env={**os.environ, "GOTOOLCHAIN": "local"},
        check=True,
        timeout=240,
    )
    return out


def test_the_go_unit_tests_pass(binary: Path) -> None:
    # The response parser's cases (chunks, interim answers, broken framing) that
    # the servers below never produce.
    run = subprocess.run(
        [GO, "test", "-count=1", "./..."],
        cwd=ROOT / "benchmarks" / "loadgen",
        env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture
def compiled(binary: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """run() sends through the binary from here on."""
    monkeypatch.setenv("BENCH_LOADGEN", str(binary))
    return binary


class SlowServer:
    """HTTP/1.1 with keep-alive that answers each request after ``delay``: 200 for
    /ok, 404 for anything else. Counts the requests and connections it saw."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0
        self.connections = 0
        self._handlers: set[asyncio.Task[object]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                self.requests += 1
                await asyncio.sleep(self.delay)
                status = b"200 OK" if head.split(b" ")[1] == b"/ok" else b"404 Not Found"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nhi")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the generator closed the connection
        finally:
            self._handlers.discard(handler)
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for handler in self._handlers:  # one still sleeping on an answer nobody awaits
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()


def ok_then_missing(i: int) -> loadgen.Request:
    if i % 2:
        return ("POST", "/missing", b'{"n": %d}' % i)
    return ("GET", "/ok", None)


async def test_it_sends_rate_times_seconds_requests_timed_from_their_schedule_on_pooled_connections(
    compiled: Path,
) -> None:
    slow_server = SlowServer(delay=0.02)
    async with slow_server as url:
        result = await loadgen.run(url, ok_then_missing, rate=200, seconds=1)

    assert slow_server.requests == 200
    assert result.statuses == {200: 100, 404: 100}
    assert not result.errors
    assert len(result.latencies) == 200
    assert min(result.latencies) >= slow_server.delay
    assert result.summary()["requests"] == 200
    assert (result.generator_cpu_seconds or 0) > 0
    # 20 ms answers at one request every 5 ms keep about four in flight.
    assert slow_server.connections <= 20


async def test_a_request_waiting_for_a_connection_counts_the_wait_in_its_latency(
    compiled: Path,
) -> None:
    slow_server = SlowServer(delay=0.02)
    async with slow_server as url:
        # 50 requests of 20 ms each on one connection take 1 s; they are due within 0.5 s.
        result = await loadgen.run(
            url, lambda i: ("GET", "/ok", None), rate=100, seconds=0.5, max_connections=1
        )

    assert slow_server.connections == 1
    assert result.statuses == {200: 50}
    assert max(result.latencies) > 0.4


async def test_a_refused_connection_is_counted_as_an_error_by_kind(compiled: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    result = await loadgen.run(url, ok_then_missing, rate=100, seconds=0.2)

    assert result.errors == {"ConnectionRefusedError": 20}
    assert not result.latencies
    assert result.summary()["requests"] == 20


async def test_an_answer_later_than_the_request_timeout_is_counted_as_a_timeout(
    compiled: Path,
) -> None:
    async with SlowServer(delay=5) as url:
        result = await loadgen.run(url, ok_then_missing, rate=50, seconds=0.1, request_timeout=0.2)

    assert result.errors == {"TimeoutError": 5}


def test_the_generator_refuses_a_host_other_than_loopback(binary: Path) -> None:
    # Refused while reading its arguments: the plan is not even read, nothing is dialled.
    for url in ("http://192.0.2.1:80", "http://example.com", "https://127.0.0.1:8443"):
        run = subprocess.run(
            [str(binary), "run", f"--url={url}", "--rate=10", "--seconds=1"],
            input=b"",
            capture_output=True,
            timeout=10,
        )
        assert run.returncode != 0
        assert b"loopback" in run.stderr or b"want http://127.0.0.1" in run.stderr
        assert run.stdout == b""


@pytest.fixture
def origin(binary: Path, tmp_path: Path) -> Iterator[tuple[int, bytes]]:
    """``loadgen serve`` over a directory with one clip, a symlink out of it and,
    next to it, a file it must never serve."""
    served = tmp_path / "served"
    served.mkdir()
    clip = os.urandom(10_000)
    (served / "clip.mp4").write_bytes(clip)
    (tmp_path / "secret.txt").write_text("outside")
    (served / "escape.txt").symlink_to(tmp_path / "secret.txt")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "serve", f"--addr=127.0.0.1:{port}", f"--dir={served}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, timeout=10, interval=0.02, what="loadgen serve to listen")
        yield port, clip
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_origin_serves_files_with_their_length_on_one_connection_and_404_otherwise(
    origin: tuple[int, bytes],
) -> None:
    port, clip = origin
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        answers = []
        for method, path in [
            ("GET", "/clip.mp4"),
            ("HEAD", "/clip.mp4"),
            ("GET", "/missing.mp4"),
            ("GET", "/"),  # no listings
            ("POST", "/clip.mp4"),
        ]:
            client.request(method, path)
            response = client.getresponse()
            body = response.read()
            answers.append((response.status, response.getheader("Content-Length"), body))
            assert not response.will_close  # keep-alive: the next request reuses it
    finally:
        client.close()

    assert answers[0] == (200, str(len(clip)), clip)
    assert answers[1] == (200, str(len(clip)), b"")
    assert [status for status, _, _ in answers[2:]] == [404, 404, 405]


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/escape.txt"]
)
def test_the_origin_serves_nothing_outside_its_directory(
    origin: tuple[int, bytes], path: str
) -> None:
    port, _ = origin
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        # Raw, so that no client normalises the path first.
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 404 ") or answer.startswith(b"HTTP/1.1 400 ")
    assert b"outside" not in answer
