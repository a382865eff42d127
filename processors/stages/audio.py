"""Audio: EBU R128 loudness (integrated, true peak, range) and silence
segments, and the audio extracted as 16 kHz mono WAV for transcription, in one
streaming ffmpeg pass over the original (a lower CPU priority, a memory
ceiling). ffmpeg's log is read line by line as it comes, so an hour of audio
costs no more memory than a minute beyond the silences found; they are kept
whole as an artifact, the results hold the first ``MAX_SILENCES``."""

from __future__ import annotations

import json
import math
import re
from collections import deque
from typing import Any

from processors.errors import StageError
from processors.ffmpeg_input import safe_input_options
from processors.media_tool import FFMPEG_QUIET, run_streaming
from processors.stages.context import StageContext, StageSkipped

SILENCE_NOISE_DB = -40
SILENCE_MIN_SECONDS = 0.5
MAX_SILENCES = 100
LOUDNESS_LOG_LINES = 40
EXTRACT_AS = ("-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le")
_SILENCE_START = re.compile(r"silence_start: (-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end: (-?[\d.]+)")
_LOUDNORM_JSON = re.compile(r"\{[^{}]*\"input_i\"[^{}]*\}", re.S)


def _level(value: Any) -> float | None:
    """loudnorm's figures as numbers; -inf (digital silence) becomes None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 2) if math.isfinite(number) else None


class SilenceLog:
    """Silences from silencedetect's log lines, fed one line at a time."""

    def __init__(self) -> None:
        self.silences: list[dict[str, float]] = []
        self._start: float | None = None

    def feed(self, line: str) -> None:
        if (m := _SILENCE_START.search(line)) is not None:
            self._start = max(0.0, float(m.group(1)))
        elif (m := _SILENCE_END.search(line)) is not None and self._start is not None:
            end = float(m.group(1))
            self.silences.append(
                {"start": self._start, "end": end, "duration": round(end - self._start, 3)}
            )
            self._start = None

    def close(self, duration: float | None) -> list[dict[str, float]]:
        if self._start is not None and duration:  # silent until the end
            start = self._start
            self.silences.append(
                {"start": start, "end": duration, "duration": round(duration - start, 3)}
            )
            self._start = None
        return self.silences


def parse_silences(log: str, duration: float | None) -> list[dict[str, float]]:
    found = SilenceLog()
    for line in log.splitlines():
        found.feed(line)
    return found.close(duration)


def parse_loudness(log: str) -> dict[str, float | None]:
    match = _LOUDNORM_JSON.search(log)
    if match is None:
        raise StageError("ffmpeg reported no loudness measurement")
    figures = json.loads(match.group(0))
    return {
        "integrated_loudness_lufs": _level(figures.get("input_i")),
        "true_peak_dbtp": _level(figures.get("input_tp")),
        "loudness_range_lu": _level(figures.get("input_lra")),
        "threshold_lufs": _level(figures.get("input_thresh")),
    }


async def analyse_audio(ctx: StageContext) -> dict[str, Any]:
    streams = ctx.streams("audio")
    if not streams:
        raise StageSkipped("the media has no audio stream")
    wav = ctx.workdir / "audio.wav"
    duration = ctx.duration
    found = SilenceLog()
    last_lines: deque[str] = deque(maxlen=LOUDNESS_LOG_LINES)

    async def on_log(line: str) -> None:
        found.feed(line)
        last_lines.append(line)  # loudnorm prints its figures at the very end

    async def on_progress(line: str) -> None:
        key, _, value = line.partition("=")
        if key == "out_time_us" and duration and value.strip().isdigit():
            await ctx.progress(min(1.0, int(value) / 1e6 / duration))

    args = [
        "ffmpeg",
        *FFMPEG_QUIET,
        "-loglevel",
        "info",
        "-progress",
        "pipe:1",
        *safe_input_options(),
        "-i",
        f"file:{ctx.media}",
        *("-map", "0:a:0", "-af"),
        f"silencedetect=noise={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_SECONDS},"
        "loudnorm=print_format=json",
        *("-f", "null", "-"),
        *("-map", "0:a:0", *EXTRACT_AS, f"file:{wav}"),
    ]
    run = await run_streaming(
        ctx.settings.child_limits.command(args),
        timeout=ctx.stage_timeout,
        what="audio analysis and extraction",
        on_stdout=on_progress,
        on_stderr=on_log,
    )
    if run.returncode != 0:
        raise StageError(f"audio analysis and extraction failed: {run.last_error_line()}")
    ctx.audio_wav = wav
    silences = found.close(duration)
    listed = ctx.workdir / "silences.json"
    listed.write_text(json.dumps(silences), encoding="utf-8")
    stream = streams[0]
    return {
        "codec": stream.get("codec"),
        "sample_rate": stream.get("sample_rate"),
        "channels": stream.get("channels"),
        "loudness": parse_loudness("\n".join(last_lines)),
        "silences": silences[:MAX_SILENCES],
        "silence_count": len(silences),
        "silences_truncated": len(silences) > MAX_SILENCES,
        "silence_seconds": round(sum(s["duration"] for s in silences), 3),
        "silence_threshold_db": SILENCE_NOISE_DB,
        "extracted": {"format": "wav", "sample_rate": 16000, "channels": 1},
        "files": {"silences": await ctx.keep("silences.json", listed)},
    }
