"""The cluster suite's stack: six partitions (so that leadership spreads over
the three nodes unevenly enough to pick "the node that leads most"), and every
service scaled out as its own processes: the API with two workers, two
processors and two projectors, each pair in one consumer group."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Service, wait_ready

PARTITIONS = "6"


@pytest.fixture(scope="session")
def service_env(service_env: dict[str, str]) -> dict[str, str]:
    # More slots than the default: a few real clips, slow on a busy machine, must
    # not hold back the many analyses that end at their fetch.
    return {**service_env, "KAFKA_TOPIC_PARTITIONS": PARTITIONS, "PROCESSOR_CONCURRENCY": "16"}


class ScaledOut:
    """api (API_WORKERS=2), processor-1/2 and projector-1/2, each ended by its PID."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.base_url = f"http://127.0.0.1:{env['API_PORT']}"
        self.running: dict[str, Service] = {}
        self._starts = 0

    def start(self, name: str) -> Service:
        self._starts += 1
        command = name.split("-")[0]
        env = {**self.env, "API_WORKERS": "2"} if command == "api" else self.env
        self.running[name] = Service(f"cluster-{name}-{self._starts}", command, env)
        return self.running[name]

    def kill(self, name: str) -> None:
        service = self.running.pop(name)
        service.process.kill()  # SIGKILL: no commit, no cleanup
        service.process.wait()
        service.stop()

    def stop_all(self) -> None:
        for service in self.running.values():
            service.stop()
        self.running.clear()


@pytest.fixture(scope="module")
def scaled_out(prepared: dict[str, str]) -> Iterator[ScaledOut]:
    stack = ScaledOut(prepared)
    for name in ("api", "processor-1", "processor-2", "projector-1", "projector-2"):
        stack.start(name)
    try:
        wait_ready(stack.running.values(), stack.base_url, timeout=180)
        yield stack
    finally:
        stack.stop_all()
