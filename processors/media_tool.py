"""Run ffmpeg or ffprobe as an asyncio subprocess that never outlives its caller.

A timeout or a cancellation (deadline, deletion) kills the process and waits
for it, so no ffmpeg keeps running for an analysis that has ended. Callers
pass ``-protocol_whitelist file`` before every untrusted input, so a playlist
or concat file inside the media cannot reach the network or other files.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from processors.errors import StageError

FFMPEG_QUIET = ("-hide_banner", "-nostdin", "-nostats", "-y")
LINE_LIMIT = 1024 * 1024
KEPT_ERROR_LINES = 20

OnLine = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ToolRun:
    returncode: int
    stdout: bytes
    stderr: bytes

    def last_error_line(self) -> str:
        lines = [ln for ln in self.stderr.decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1].strip() if lines else f"exit code {self.returncode}"


async def run_tool(args: list[str], *, timeout: float, what: str) -> ToolRun:  # noqa: ASYNC109 (kills the process, not just the wait)
    """Run ``args``; raise StageError when it takes longer than ``timeout``."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError as exc:
        await _kill(process)
        raise StageError(f"{what} took longer than {timeout:g}s") from exc
    except BaseException:
        await _kill(process)  # cancelled: the analysis ended, so does its ffmpeg
        raise
    return ToolRun(process.returncode or 0, out, err)


async def run_checked(args: list[str], *, timeout: float, what: str) -> ToolRun:  # noqa: ASYNC109
    """``run_tool`` that also raises StageError on a non-zero exit."""
    run = await run_tool(args, timeout=timeout, what=what)
    if run.returncode != 0:
        raise StageError(f"{what} failed: {run.last_error_line()}")
    return run


async def run_streaming(
    args: list[str],
    *,
    timeout: float,  # noqa: ASYNC109 (kills the process, not just the wait)
    what: str,
    on_stdout: OnLine | None = None,
    on_stderr: OnLine | None = None,
) -> ToolRun:
    """Run ``args`` and hand each output line to its callback as it comes, so
    a long run's output is never held whole; ``stderr`` keeps its last lines."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        limit=LINE_LIMIT,
    )
    tail: deque[str] = deque(maxlen=KEPT_ERROR_LINES)

    async def pump(stream: asyncio.StreamReader | None, on_line: OnLine | None, keep: bool) -> None:
        assert stream is not None
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if keep:
                tail.append(line)
            if on_line is not None:
                await on_line(line)

    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(
                pump(process.stdout, on_stdout, False), pump(process.stderr, on_stderr, True)
            )
            returncode = await process.wait()
    except TimeoutError as exc:
        await _kill(process)
        raise StageError(f"{what} took longer than {timeout:g}s") from exc
    except BaseException:
        await _kill(process)  # cancelled, or a callback failed: the process ends too
        raise
    return ToolRun(returncode, b"", "\n".join(tail).encode())


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    # Shielded so a second cancellation cannot leave a zombie behind.
    await asyncio.shield(process.wait())
