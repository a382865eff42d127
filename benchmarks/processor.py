"""The processor as a process the benchmark starts and stops itself.

Load scenarios measure the command path (API, Kafka, projector); a processor
working off their analyses in the background would bill its CPU to whatever
scenario ran next. So the processor runs only in the scenarios about it (clips)
and in the combined mix, and before the mix its consumer group is moved to the
end of the log: it processes the mix's requests, not every earlier one.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks import procstat
from benchmarks.scenarios import event_partitions
from events import EVENTS_TOPIC
from processors.consumer import GROUP_ID


async def skip_backlog(bootstrap: str) -> None:
    """Commit the processor group's offsets at the end of every partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=GROUP_ID, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(EVENTS_TOPIC, p) for p in sorted(await event_partitions(bootstrap))
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends.items()))
    finally:
        await consumer.stop()


class Processor:
    """``async with Processor(...) as p``: a running processor, ready for work;
    its CPU seconds and peak PSS accumulate over every run. ``slots``: its
    PROCESSOR_CONCURRENCY (else the environment's, or the default); ``nice``: its
    CPU priority below the API's, as ``make up`` runs it (0: the same)."""

    cpu_seconds = 0.0
    peak_pss_mb = 0.0

    def __init__(
        self, base_url: str, probe_url: str, log: Path, slots: int | None = None, nice: int = 0
    ) -> None:
        self._base, self._probe, self._log = base_url, probe_url, log
        self._nice = ["nice", "-n", str(nice)] if nice > 0 else []
        self._env = dict(os.environ)
        if slots is not None:
            self._env["PROCESSOR_CONCURRENCY"] = str(slots)
        self._process: asyncio.subprocess.Process | None = None
        self._memory: procstat.PeakMemory | None = None

    async def __aenter__(self) -> Processor:
        exe = str(Path(sys.executable).parent / "media-analysis")
        with self._log.open("ab") as out:
            self._process = await asyncio.create_subprocess_exec(
                *self._nice, exe, "processor", stdout=out, stderr=out, env=self._env
            )
        self._memory = procstat.PeakMemory({"processor": self._process.pid})
        self._memory.start()
        await self._ready()
        return self

    async def _ready(self, within: float = 90) -> None:
        """Submit one analysis and wait until a processor has finished it."""
        deadline = time.perf_counter() + within
        # A generous timeout: a busy API (the scenario before) may answer slowly, and
        # a timeout here once ended a whole bench run at its last scenario.
        async with httpx.AsyncClient(base_url=self._base, timeout=60) as client:
            body = {"prompt": "probe", "media_url": self._probe, "media_type": "video"}
            aid = (await client.post("/api/media/analyze", json=body)).json()["analysis_id"]
            while time.perf_counter() < deadline:
                status = (await client.get(f"/api/media/status/{aid}")).json()["status"]
                if status in ("completed", "failed"):
                    return
                await asyncio.sleep(0.2)
        raise RuntimeError("the processor did not take work within 90 s")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._process is not None
        assert self._memory is not None
        Processor.cpu_seconds += procstat.cpu_seconds(self._process.pid)
        Processor.peak_pss_mb = max(Processor.peak_pss_mb, (await self._memory.stop())["processor"])
        await procstat.terminate(self._process)
