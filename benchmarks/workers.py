"""A second API with ``API_WORKERS`` processes on a port of its own, for the
scale-out runs: the same scenarios against several API processes instead of one."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from benchmarks import procstat


class ApiWorkers:
    """``async with ApiWorkers(2, port, log) as api``: ready once /readyz is green."""

    def __init__(
        self, workers: int, port: int, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.workers, self.port, self._log = workers, port, log
        self._env = env or {}
        self._process: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def __aenter__(self) -> ApiWorkers:
        env = {
            **os.environ,
            **self._env,
            "API_PORT": str(self.port),
            "API_WORKERS": str(self.workers),
        }
        with self._log.open("ab") as out:
            self._process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "media-analysis"),
                "api",
                stdout=out,
                stderr=out,
                env=env,
            )
        deadline = time.perf_counter() + 90
        async with httpx.AsyncClient(timeout=5) as client:
            while time.perf_counter() < deadline:
                try:
                    if (await client.get(f"{self.base_url}/readyz")).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        raise RuntimeError(f"the API with {self.workers} workers was not ready within 90 s")

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._process is not None
        await procstat.terminate(self._process)
