"""Profile one service under one load: ``make profile`` (see the README).

    PROFILE_SERVICE=api|projector|processor  PROFILE_SCENARIO=post|status
    PROFILE_RATE=300  PROFILE_SECONDS=15

Runs on the bench stack that scripts/bench.sh starts (BENCH_DRIVER selects this
module), samples the service with py-spy while the open-loop generator sends the
load, and prints the functions holding the CPU (own time, then inclusive) and the
service's CPU milliseconds per request. The raw samples stay in
.state/bench/profile-<service>.txt for a flame graph.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import uvloop

from benchmarks import procstat, scenarios
from benchmarks.processor import Processor
from events import AnalysisStarted


def summarise(raw: Path, top: int = 25) -> str:
    """The hottest frames of a py-spy ``raw`` (collapsed stacks) file."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


async def main() -> None:
    service = os.environ.get("PROFILE_SERVICE", "api")
    scenario = os.environ.get("PROFILE_SCENARIO", "post")
    rate = float(os.environ.get("PROFILE_RATE", "300"))
    seconds = float(os.environ.get("PROFILE_SECONDS", "15"))
    stack = scenarios.BenchStack.from_env()
    base, missing, state = stack.base_url, stack.missing_url, stack.state
    pids = procstat.bench_pids()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is missing: make venv installs it (dev extra)")

    make = scenarios.post_request(missing)
    if scenario == "status":
        make = scenarios.status_request(await scenarios.create_analyses(base, missing, 300))
        await scenarios.projector_caught_up(stack.bootstrap, stack.dsn)
    raw = state / f"profile-{service}.txt"

    async def sample(pid: int) -> None:
        spy = await asyncio.create_subprocess_exec(
            py_spy, "record", "--nonblocking", "-r", "250", "-f", "raw", "-o", str(raw),
            "-d", str(int(seconds)), "-p", str(pid),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        cpu, since = procstat.cpu_seconds(pid), time.time()
        result = await scenarios.measured(base, make, rate, seconds)
        spent = procstat.cpu_seconds(pid) - cpu
        await spy.wait()
        print(json.dumps(result))
        print(f"{service}: {1000 * spent / max(1, int(result['requests'])):.3f} CPU ms per request")
        if service == "processor":  # four slots start far fewer analyses than are offered
            started = await scenarios.events_between(
                stack.dsn, AnalysisStarted.TYPE, since, time.time()
            )
            print(f"processor: {started} analyses started, {1000 * spent / max(1, started):.3f}"
                  " CPU ms per analysis started")  # fmt: skip
        print(summarise(raw))

    if service == "processor":  # not one of the stack's services: the bench starts it
        async with Processor(base, missing, state / "logs" / "processor.log") as processor:
            await sample(processor.pid)
    else:
        await sample(pids[service])


if __name__ == "__main__":
    uvloop.run(main())
