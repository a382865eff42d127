"""`make bench-long`: long media end to end on the bench stack.

Speech audio of ``LONG_AUDIO_MINUTES`` (10 and 60) and a video of
``LONG_VIDEO_MINUTES`` (30), made offline once (espeak-ng speech looped with
ffmpeg, the video a test pattern under the same speech) and cached under
``~/.cache/media-analysis/long-media``. Each is analysed alone, with a fresh
processor of one slot: end-to-end time, every stage's real-time factor (its
seconds per second of media), how often ``progress`` rose, and the peak PSS of
the processor's process tree (the processor and its stage children). Then,
unless ``LONG_CONCURRENT=0``, ``LONG_CONCURRENT`` (4) analyses of the longest
audio at once on a processor of as many slots, with the API under
``LONG_API_RATE`` (200) req/s of POST and status: the API's p95 and errors
while they run, and whether every process outlived them. That processor runs at
``nice`` ``LONG_PROCESSOR_NICE`` (5), as ``make up`` runs it. Writes
``benchmarks/results/long_media.json`` and its section of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import procstat, report, scenarios
from benchmarks.processor import Processor, skip_backlog

CACHE = Path.home() / ".cache" / "media-analysis" / "long-media"
RESULTS = Path(__file__).resolve().parent / "results" / "long_media.json"
"""Where the figures go; ``LONG_RESULTS`` names another file (a partial run)."""
SPEECH = (
    "Good morning and welcome to the weekly planning meeting. "
    "First, the garden club has finished the new greenhouse, and the tomatoes are already "
    "growing well. Second, the library will stay open late on Thursdays from next month, "
    "so students can read and study after school. Third, the town council asked us to "
    "count the bicycles parked near the station, because a new shelter is planned. "
    "We walked to the park on Saturday and measured the path: it is four hundred metres "
    "from the gate to the lake. Finally, remember that the spring fair starts at ten "
    "o'clock, and volunteers should bring water, gloves and a good book for the quiet hour. "
    "Thank you all, and see you next week."
)
POLL_SECONDS = 1.0
TERMINAL = {"completed", "failed"}


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=3600
    )


def _cached(name: str, make: Any) -> Path:
    """``CACHE/name``, made by ``make(path)`` the first time only."""
    path = CACHE / name
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"partial-{name}")
        make(partial)
        partial.replace(path)
    return path


def speech_wav() -> Path:
    return _cached(
        "speech.wav",
        lambda p: subprocess.run(
            ["espeak-ng", "-s", "150", "-w", str(p), SPEECH], check=True, timeout=120
        ),
    )


def _looped(unit: Path, minutes: int, name: str) -> Path:
    """``unit`` repeated to ``minutes`` without re-encoding (stream copy)."""
    return _cached(
        name,
        lambda p: _ffmpeg(
            *("-stream_loop", "-1", "-i", str(unit), "-t", str(minutes * 60)),
            *("-c", "copy", "-f", unit.suffix.lstrip("."), str(p)),
        ),
    )


def speech_audio(minutes: int) -> Path:
    """``minutes`` of the speech, looped, as a 64 kb/s mono MP3 (five minutes
    encoded once, then copied)."""
    source = speech_wav()
    unit = _cached(
        "speech-5min.mp3",
        lambda p: _ffmpeg(
            *("-stream_loop", "-1", "-i", str(source), "-t", "300"),
            *("-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", str(p)),
        ),
    )
    return _looped(unit, minutes, f"speech-{minutes}min.mp3")


def speech_video(minutes: int) -> Path:
    """``minutes`` of a test pattern (640x360, 10 fps) under the looped speech
    (five minutes encoded once, then copied)."""
    source = speech_wav()
    unit = _cached(
        "video-5min.mp4",
        lambda p: _ffmpeg(
            *("-f", "lavfi", "-i", "testsrc=size=640x360:rate=10"),
            *("-stream_loop", "-1", "-i", str(source), "-t", "300"),
            *("-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast"),
            *("-crf", "35", "-g", "250", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k"),
            *("-f", "mp4", str(p)),
        ),
    )
    return _looped(unit, minutes, f"video-{minutes}min.mp4")


def serve(path: Path, samples: Path) -> str:
    """Put ``path`` beside the bench's sample clip (a link, else a copy); its name."""
    target = samples / path.name
    if not target.exists():
        try:
            target.hardlink_to(path)
        except OSError:
            shutil.copyfile(path, target)
    return path.name


async def follow(client: httpx.AsyncClient, analysis_id: str, within: float) -> dict[str, Any]:
    """Poll the status until terminal: the body, and the progress seen over time."""
    started = time.perf_counter()
    seen: list[tuple[float, int]] = []
    while time.perf_counter() - started < within:
        try:
            body = (await client.get(f"/api/media/status/{analysis_id}")).json()
        except httpx.HTTPError:  # an overloaded API's slow answer: ask again
            await asyncio.sleep(POLL_SECONDS)
            continue
        if not seen or body["progress"] != seen[-1][1]:
            seen.append((round(time.perf_counter() - started, 1), body["progress"]))
        if body["status"] in TERMINAL:
            return {"body": body, "progress": seen, "seconds": time.perf_counter() - started}
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"analysis {analysis_id} did not end within {within:g}s")


async def submit(
    client: httpx.AsyncClient, url: str, media_type: str, options: dict[str, bool]
) -> str:
    body = {
        "prompt": "What is said?",
        "media_url": url,
        "media_type": media_type,
        "options": options,
    }
    answer = await client.post("/api/media/analyze", json=body)
    answer.raise_for_status()
    return str(answer.json()["analysis_id"])


def summarise(followed: dict[str, Any], media_seconds: float) -> dict[str, Any]:
    body = followed["body"]
    results = body.get("results") or {}
    stages = {
        name: {
            "status": stage["status"],
            "seconds": stage["duration_seconds"],
            "real_time_factor": round(stage["duration_seconds"] / media_seconds, 4),
        }
        for name, stage in results.get("stages", {}).items()
    }
    steps = followed["progress"]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(steps)]
    transcript = results.get("transcript") or {}
    return {
        "status": body["status"],
        "error": body.get("error_message"),
        "end_to_end_seconds": round(followed["seconds"], 1),
        "real_time_factor": round(followed["seconds"] / media_seconds, 4),
        "stages": stages,
        "progress_rises": len(steps) - 1,
        "longest_progress_gap_seconds": round(max(gaps), 1) if gaps else None,
        "word_count": transcript.get("word_count"),
        "segment_count": transcript.get("segment_count"),
        "status_body_bytes": len(json.dumps(body)),
    }


async def alone(
    stack: scenarios.BenchStack, name: str, media_type: str, minutes: int, options: dict[str, bool]
) -> dict[str, Any]:
    media_url = stack.media_url.rsplit("/", 1)[0] + "/" + name
    log = stack.state / "logs" / "processor.log"
    Processor.peak_pss_mb = 0.0
    async with (
        Processor(stack.base_url, stack.missing_url, log, slots=1),
        httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client,
    ):
        aid = await submit(client, media_url, media_type, options)
        followed = await follow(client, aid, within=minutes * 60 * 4 + 600)
    result = summarise(followed, minutes * 60)
    result["peak_pss_mb"] = Processor.peak_pss_mb
    print(f"[long] {name}: {json.dumps(result)}", flush=True)
    return result


async def concurrently(
    stack: scenarios.BenchStack, name: str, minutes: int, count: int, rate: float
) -> dict[str, Any]:
    """``count`` analyses of ``name`` at once while the API takes ``rate`` req/s."""
    nice = int(os.environ.get("LONG_PROCESSOR_NICE", "5"))
    media_url = stack.media_url.rsplit("/", 1)[0] + "/" + name
    log = stack.state / "logs" / "processor.log"
    pids = procstat.bench_pids()
    Processor.peak_pss_mb = 0.0
    windows: list[dict[str, Any]] = []
    async with (
        Processor(stack.base_url, stack.missing_url, log, slots=count, nice=nice) as processor,
        httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client,
    ):
        ids = [
            await submit(client, media_url, "audio", {"transcribe_audio": True})
            for _ in range(count)
        ]
        followed = asyncio.gather(*(follow(client, aid, minutes * 60 * 8 + 900) for aid in ids))
        post = scenarios.post_request(stack.missing_url)
        status = scenarios.status_request(ids)
        while not followed.done():
            post_run, status_run = await asyncio.gather(
                scenarios.measured(stack.base_url, post, rate / 2, 30),
                scenarios.measured(stack.base_url, status, rate / 2, 30),
            )
            windows.append({"post": post_run, "status": status_run})
            print(
                f"[long] load window: p95 ms post {post_run['p95_ms']}, status"
                f" {status_run['p95_ms']}; errors {post_run['errors']} {status_run['errors']}",
                flush=True,
            )
        done = await followed
        survived = {n: _alive(p) for n, p in pids.items()} | {"processor": _alive(processor.pid)}
    analyses = [summarise(f, minutes * 60) for f in done]
    result = {
        "analyses": analyses,
        "completed": sum(a["status"] == "completed" for a in analyses),
        "end_to_end_seconds": max(a["end_to_end_seconds"] for a in analyses),
        "peak_pss_mb": Processor.peak_pss_mb,
        "api_rate": rate,
        "processor_nice": nice,
        "media_minutes": minutes,
        "post_p95_ms_median_window": _median([w["post"]["p95_ms"] for w in windows]),
        "status_p95_ms_median_window": _median([w["status"]["p95_ms"] for w in windows]),
        "post_p95_ms_worst_window": max(w["post"]["p95_ms"] for w in windows) if windows else None,
        "status_p95_ms_worst_window": max(w["status"]["p95_ms"] for w in windows)
        if windows
        else None,
        "windows": windows,
        "processes_alive_after": survived,
    }
    headline = {k: v for k, v in result.items() if k != "windows"}
    print(f"[long] {count} x {name}: {json.dumps(headline)}", flush=True)
    return result


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def main() -> None:
    stack = scenarios.BenchStack.from_env()
    samples = stack.state / "samples"
    audio_minutes = [int(m) for m in os.environ.get("LONG_AUDIO_MINUTES", "10,60").split(",")]
    video_minutes = int(os.environ.get("LONG_VIDEO_MINUTES", "30"))
    count = int(os.environ.get("LONG_CONCURRENT", "4"))
    rate = float(os.environ.get("LONG_API_RATE", "200"))
    alone_too = os.environ.get("LONG_ALONE", "1") != "0"
    output = Path(os.environ.get("LONG_RESULTS", str(RESULTS)))
    print("[long] making the media (cached in", CACHE, ")", flush=True)
    audio = {m: serve(speech_audio(m), samples) for m in audio_minutes}
    video = serve(speech_video(video_minutes), samples) if video_minutes > 0 else None
    await skip_backlog(stack.bootstrap)
    results: dict[str, Any] = {"alone": {}}
    transcribe = {"transcribe_audio": True}
    for minutes, name in audio.items() if alone_too else ():
        results["alone"][f"audio_{minutes}min"] = await alone(
            stack, name, "audio", minutes, transcribe
        )
    if video is not None and alone_too:
        options = transcribe | {"extract_frames": True, "generate_contact_sheet": True}
        results["alone"][f"video_{video_minutes}min"] = await alone(
            stack, video, "video", video_minutes, options
        )
    if count > 0:
        longest = max(audio)
        await skip_backlog(stack.bootstrap)
        results["concurrent"] = await concurrently(stack, audio[longest], longest, count, rate)
    await asyncio.to_thread(output.write_text, json.dumps(results, indent=1) + "\n")
    if output == RESULTS:
        report.main()  # BENCHMARKS.md with this run's section
    print(f"[long] written {output}")


if __name__ == "__main__":
    asyncio.run(main())
