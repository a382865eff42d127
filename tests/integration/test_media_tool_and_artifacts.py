"""ffmpeg never outlives its analysis, and the local artifact store keeps
files per analysis and removes them all on request."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from uuid import uuid4

import pytest

from infra.artifacts import LocalArtifactStore, UnsafeArtifactName
from processors.errors import StageError
from processors.media_tool import run_tool

ENDLESS = [
    "ffmpeg",
    "-hide_banner",
    "-nostdin",
    "-f",
    "lavfi",
    "-i",
    "anoisesrc",
    "-f",
    "null",
    "-",
]


def my_ffmpeg_children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if stat[1] == me and command.endswith(b"ffmpeg") and stat[0] != "Z":
            found.add(int(entry.name))
    return found


async def wait_for(predicate: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_given_a_running_ffmpeg_when_its_analysis_is_cancelled_then_ffmpeg_is_killed() -> (
    None
):
    before = my_ffmpeg_children()
    task = asyncio.create_task(run_tool(ENDLESS, timeout=60, what="endless"))
    await wait_for(lambda: my_ffmpeg_children() - before)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert my_ffmpeg_children() - before == set()


async def test_given_an_ffmpeg_over_its_time_limit_then_it_is_killed_and_the_stage_fails() -> None:
    before = my_ffmpeg_children()
    started = time.monotonic()
    with pytest.raises(StageError, match=r"took longer than 0\.5s"):
        await run_tool(ENDLESS, timeout=0.5, what="endless")
    assert time.monotonic() - started < 5
    assert my_ffmpeg_children() - before == set()


async def test_artifacts_are_kept_per_analysis_and_removed_all_at_once(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    source = tmp_path / "frame.jpg"
    source.write_bytes(b"\xff\xd8\xff fake jpeg body")
    kept, other = uuid4(), uuid4()

    ref = await store.put(kept, "frame-01.jpg", source)
    await store.put(other, "frame-01.jpg", source)

    assert (ref.size, ref.content_type) == (source.stat().st_size, "image/jpeg")
    assert await store.read(kept, "frame-01.jpg") == source.read_bytes()
    assert await store.read(kept, "missing.jpg") is None
    with pytest.raises(UnsafeArtifactName):
        await store.read(kept, "../other/frame-01.jpg")

    await store.remove_all(kept)
    await store.remove_all(kept)  # harmless when already gone

    assert await store.read(kept, "frame-01.jpg") is None
    assert await store.read(other, "frame-01.jpg") is not None
