"""CPU and memory of processes and of the machine, from /proc (Linux)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def bench_pids() -> dict[str, int]:
    """The stack's processes by name, from ``BENCH_PIDS`` (``api=12,kafka=34``),
    which scripts/bench.sh exports for the driver it runs."""
    pairs = (item.split("=") for item in os.environ["BENCH_PIDS"].split(","))
    return {name: int(pid) for name, pid in pairs}


def _children(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended while we looked: it has no children now
        for child in children:
            found.extend(_children(int(child)))
    return found


async def terminate(process: asyncio.subprocess.Process, within: float = 30) -> None:
    """SIGTERM a process the bench started, SIGKILL it if it outlives ``within``."""
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), within)
    except TimeoutError:
        process.kill()
        await process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants."""
    total = 0.0
    for p in _children(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process alone (its children not included)."""
    times = os.times()
    return times.user + times.system


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of ``pid`` and its descendants, in MiB."""
    total = 0
    for p in _children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return round(total / 1024, 1)


def pss_mb(pid: int) -> float:
    """Proportional set size of ``pid`` and its descendants, in MiB.

    PSS splits each shared page among the processes mapping it, so PostgreSQL's
    shared buffers count once for the server, not once per backend (summing
    VmHWM over backends reported 8 GB for a server using a few hundred MB).
    """
    total = 0
    for p in _children(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return round(total / 1024, 1)


class PeakMemory:
    """Samples the PSS of named process trees in the background; keeps each peak."""

    def __init__(self, pids: dict[str, int], interval: float = 1.0) -> None:
        self._pids = pids
        self._interval = interval
        self.peak: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for name, pid in self._pids.items():
            self.peak[name] = max(self.peak[name], pss_mb(pid))

    async def _run(self) -> None:
        # In a thread: reading smaps_rollup makes the kernel walk the process's page
        # tables (about 10 ms for Kafka's JVM), and on the load generator's event loop
        # that stall showed up as the measured services' tail latency (status reads
        # at 1,000 req/s: p95 28-40 ms with the sampler inline, 2-3 ms without).
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.sample()
        return self.peak


@dataclass
class MachineSample:
    """The machine's CPU ticks from /proc/stat. ``busy`` is every tick that was not
    idle or waiting for I/O, steal included: ``steal`` is time the hypervisor
    gave another guest while this one had work, which a noisy host inflates."""

    busy: float
    total: float
    steal: float
    wakeups: int = 0
    """Inter-processor interrupts so far (rescheduling and function-call, every CPU):
    mostly one process waking another on the other core, which on this VM costs
    about 28 µs of CPU on each side against 2-5 µs on one core (BENCHMARKS.md)."""
    at: float = 0.0


def _cross_core_wakeups() -> int:
    total = 0
    for line in Path("/proc/interrupts").read_text().splitlines():
        name, _, rest = line.strip().partition(":")
        if name in ("RES", "CAL"):
            total += sum(int(v) for v in rest.split() if v.isdigit())
    return total


def machine_sample() -> MachineSample:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return MachineSample(
        busy=sum(values) - idle,
        total=sum(values),
        steal=values[7],
        wakeups=_cross_core_wakeups(),
        at=time.monotonic(),
    )


def _percent(ticks: float, before: MachineSample, after: MachineSample) -> float:
    span = after.total - before.total
    return round(100 * ticks / span, 1) if span else 0.0


def machine_busy_percent(before: MachineSample, after: MachineSample) -> float:
    return _percent(after.busy - before.busy, before, after)


def machine_steal_percent(before: MachineSample, after: MachineSample) -> float:
    """The share of the machine's time that the hypervisor took (part of ``busy``)."""
    return _percent(after.steal - before.steal, before, after)


def cross_core_wakeups_per_second(before: MachineSample, after: MachineSample) -> int:
    """Inter-processor interrupts a second between the two samples."""
    span = after.at - before.at
    return round((after.wakeups - before.wakeups) / span) if span > 0 else 0
