"""Test doubles on loopback: listeners that count connections, and a media host
that misbehaves on purpose (slow, flaky, redirecting). Only 127.0.0.0/8 and ::1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.conftest import make_clip


class CountingListener:
    """A TCP listener that accepts and counts connections (and answers nothing)."""

    def __init__(self, host: str) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def url(self, path: str = "a.mp4") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/{path}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


class _Handler(BaseHTTPRequestHandler):
    server: BehaviourServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"
    _CHUNKS: ClassVar[int] = 40

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.record("", "connection")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        self.server.record(parts.path, "request")
        if "Cookie" in self.headers:
            self.server.record(parts.path, "cookie")
        if segments[0] == "slow":  # /slow/<seconds>/<token>
            self._slow(parts.path, float(segments[1]))
        elif segments[0] == "flaky":  # /flaky/<failures>/<token>
            seen = self.server.count(parts.path)
            if seen <= int(segments[1]):
                self._send(503, b"try later", "text/plain")
            else:
                self._send(200, self.server.clip.read_bytes(), "video/mp4")
        elif segments[0] == "cookie":  # /cookie: a 404 that sets a cookie
            self.send_response(404)
            self.send_header("Set-Cookie", "session=secret; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif segments[0] == "redirect":  # /redirect?to=<url>
            target = parse_qs(parts.query)["to"][0]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            path = self.server.directory / parts.path.lstrip("/")
            if path.is_file():
                self._send(200, path.read_bytes(), "application/octet-stream")
            else:
                self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _slow(self, path: str, seconds: float) -> None:
        body = self.server.clip.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        step = -(-len(body) // self._CHUNKS)
        try:
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                self.wfile.flush()
                time.sleep(seconds / self._CHUNKS)
        except (BrokenPipeError, ConnectionResetError):
            self.server.record(path, "disconnected")
            return
        self.server.record(path, "finished")


class BehaviourServer(ThreadingHTTPServer):
    """A media host on 127.0.0.1 that is slow, flaky or redirecting on request."""

    daemon_threads = True

    def __init__(self, clip: Path, directory: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.clip = clip
        self.directory = directory
        self.port = int(self.server_address[1])
        self._events: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def record(self, path: str, what: str) -> None:
        with self._lock:
            self._events.append((path, what, time.monotonic()))

    def count(self, path: str, what: str = "request") -> int:
        with self._lock:
            return sum(1 for p, w, _ in self._events if p == path and w == what)

    def when(self, path: str, what: str) -> float | None:
        with self._lock:
            return next((t for p, w, t in self._events if p == path and w == what), None)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


@contextmanager
def clip_host(directory: Path) -> Iterator[BehaviourServer]:
    """A BehaviourServer serving a one-second clip made in ``directory``."""
    server = BehaviourServer(make_clip(directory / "clip.mp4", 1.0), directory)
    try:
        yield server
    finally:
        server.close()
