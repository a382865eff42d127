"""Session fixtures: the real services against the Kafka and PostgreSQL that
``make test`` (scripts/run-tests.sh) started, plus a media server on 127.0.0.1.

Kafka and PostgreSQL start once per run; every test uses random ids, so tests
share them without interfering.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOGS = ROOT / ".state" / "test" / "logs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Any, *, timeout: float, interval: float = 0.1, what: str = "") -> Any:
    """Poll ``predicate`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: {last!r}")


@pytest.fixture(scope="session")
def infra_env() -> dict[str, str]:
    missing = [n for n in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS") if not os.environ.get(n)]
    if missing:
        pytest.exit(
            f"{', '.join(missing)} not set: run the suite with `make test`, which starts "
            "a private Kafka and PostgreSQL for it.",
            returncode=2,
        )
    return {
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
    }


def plain_dsn(url: str) -> str:
    """``DATABASE_URL`` as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


@contextmanager
def scratch_database(database_url: str, prefix: str) -> Iterator[str]:
    """An empty database of its own on the suite's PostgreSQL, dropped afterwards;
    yields its ``DATABASE_URL``."""
    import asyncio

    import asyncpg

    name = f"{prefix}_{uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield database_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE "{name}" WITH (FORCE)'))


class Service:
    """A service started as its own process, ended by its PID."""

    def __init__(self, name: str, command: str, env: dict[str, str]) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "media-analysis"), command],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def service_env(
    infra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "MEDIA_FETCH"))}
    env = {k: v for k, v in env.items() if not k.startswith(("DEEPGRAM_", "LLM_"))}  # no providers
    env.update(infra_env)
    env.update(
        {
            "API_HOST": "127.0.0.1",
            "API_PORT": str(free_port()),
            "MEDIA_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
            "WORK_DIR": str(tmp_path_factory.mktemp("work")),
            "ARTIFACT_DIR": str(tmp_path_factory.mktemp("artifacts")),
            "KAFKA_TOPIC_PARTITIONS": "3",
            "LOG_LEVEL": "INFO",
        }
    )
    return env


def _cli(command: str, env: dict[str, str]) -> None:
    subprocess.run(
        [str(BIN / "media-analysis"), command], env=env, check=True, cwd=ROOT, timeout=120
    )


@pytest.fixture(scope="session")
def migrated(service_env: dict[str, str]) -> dict[str, str]:
    """The database at the head migration, as `make up` leaves it."""
    _cli("migrate", service_env)
    return service_env


@pytest.fixture(scope="session")
def prepared(migrated: dict[str, str]) -> dict[str, str]:
    """Migrations at head and the topics created, as `make up` does."""
    _cli("create-topics", migrated)
    return migrated


def wait_ready(started: Iterable[Service], base_url: str, timeout: float = 60) -> None:
    """Until ``base_url`` answers /readyz 200; fails at once if a service exits."""

    def ready() -> bool:
        for service in started:
            if service.process.poll() is not None:
                raise AssertionError(f"{service.name} exited:\n{service.log_tail()}")
        try:
            return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=timeout, interval=0.3, what=f"{base_url}/readyz")


@pytest.fixture(scope="session")
def ops_ports() -> dict[str, int]:
    """The ports of the session processor's and projector's /metrics, /healthz and
    /readyz (only theirs: other tests start more consumers from the same env)."""
    return {"processor": free_port(), "projector": free_port()}


def with_ops_port(
    services: dict[str, Service], prepared: dict[str, str], ops_ports: dict[str, int], name: str
) -> str:
    """The base URL of session consumer ``name``'s ops endpoint; a test that
    restarted it from ``prepared`` (no ops port) left it without one: it is
    restarted once more with its port."""
    url = f"http://127.0.0.1:{ops_ports[name]}"
    try:
        httpx.get(f"{url}/healthz", timeout=2)
    except httpx.HTTPError:
        services[name].stop()
        port = {f"{name.upper()}_HTTP_PORT": str(ops_ports[name])}
        services[name] = Service(name, name, {**prepared, **port})
    return url


@pytest.fixture(scope="session")
def services(prepared: dict[str, str], ops_ports: dict[str, int]) -> Iterator[dict[str, Service]]:
    env = {
        **prepared,
        "PROCESSOR_HTTP_PORT": str(ops_ports["processor"]),
        "PROJECTOR_HTTP_PORT": str(ops_ports["projector"]),
    }
    started = {name: Service(name, name, env) for name in ("api", "projector", "processor")}
    try:
        wait_ready(started.values(), f"http://127.0.0.1:{prepared['API_PORT']}")
        yield started
    finally:
        for service in started.values():
            service.stop()


@pytest.fixture(scope="session")
def base_url(services: dict[str, Service], prepared: dict[str, str]) -> str:
    return f"http://127.0.0.1:{prepared['API_PORT']}"


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        yield c


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MediaServer:
    """Static files over HTTP on 127.0.0.1, for the processors to fetch."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        handler = partial(_QuietHandler, directory=str(directory))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def make_clip(path: Path, seconds: float = 3.0) -> Path:
    """A real clip: test pattern plus a 440 Hz tone, made by ffmpeg."""
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size=160x120:rate=25:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


@pytest.fixture(scope="session")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    directory = tmp_path_factory.mktemp("media")
    make_clip(directory / "clip.mp4", 3.0)
    (directory / "notes.txt").write_text("These are plain notes, not media.\n" * 20)
    server = MediaServer(directory)
    yield server
    server.close()


def wait_for_status(
    client: httpx.Client, analysis_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    """Poll GET status until the analysis reaches one of ``statuses``. A 503 that
    says the projection is catching up (a projector restarting, say) is what the
    API answers instead of a premature 404: poll again, as a client would."""

    def reached() -> dict[str, Any] | None:
        response = client.get(f"/api/media/status/{analysis_id}")
        if response.status_code == 503 and "Cannot tell yet" in response.text:
            return None
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["status"] in statuses else None

    result: dict[str, Any] = wait_until(reached, timeout=timeout, interval=0.2, what=str(statuses))
    return result


def analyse_clip(
    client: httpx.Client, media_url: str, timeout: float = 90
) -> tuple[str, dict[str, Any]]:
    """Submit ``media_url`` as a video, expect the 202 and wait for a final state:
    the analysis's id and its last status body."""
    response = client.post(
        "/api/media/analyze",
        json={"prompt": "What is in this clip?", "media_url": media_url, "media_type": "video"},
    )
    assert response.status_code == 202, response.text
    analysis_id = str(response.json()["analysis_id"])
    return analysis_id, wait_for_status(client, analysis_id, {"completed", "failed"}, timeout)


LOCAL_MODEL = "smollm2-135m-instruct"
"""The model name scripts/llm-server.sh serves (SmolLM2-135M-Instruct, Q4_1)."""


@pytest.fixture(scope="session")
def local_llm_url() -> str:
    """The OpenAI-compatible base URL of the local llama.cpp server that
    scripts/run-tests.sh started (scripts/llm-server.sh)."""
    url = os.environ.get("MA_TEST_LLM_URL")
    if not url:
        pytest.fail("MA_TEST_LLM_URL not set: run the suite with `make test`, which starts it")
    return url
