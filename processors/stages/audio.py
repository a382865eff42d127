"""Audio: EBU R128 loudness (integrated, true peak, range) and silence
segments in one ffmpeg pass over the original, and the audio extracted as
16 kHz mono WAV for transcription."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from processors.errors import StageError
from processors.ffmpeg_input import safe_input_options
from processors.media_tool import FFMPEG_QUIET, run_checked
from processors.stages.context import StageContext, StageSkipped

SILENCE_NOISE_DB = -40
SILENCE_MIN_SECONDS = 0.5
MAX_SILENCES = 500
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


def parse_silences(log: str, duration: float | None) -> list[dict[str, float]]:
    silences: list[dict[str, float]] = []
    start: float | None = None
    for line in log.splitlines():
        if (m := _SILENCE_START.search(line)) is not None:
            start = max(0.0, float(m.group(1)))
        elif (m := _SILENCE_END.search(line)) is not None and start is not None:
            end = float(m.group(1))
            silences.append({"start": start, "end": end, "duration": round(end - start, 3)})
            start = None
    if start is not None and duration:  # silent until the end
        silences.append({"start": start, "end": duration, "duration": round(duration - start, 3)})
    return silences[:MAX_SILENCES]


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
    source = [*safe_input_options(), "-i", f"file:{ctx.media}", "-map", "0:a:0", "-vn"]
    measured = await run_checked(
        [
            "ffmpeg",
            *FFMPEG_QUIET,
            "-loglevel",
            "info",
            *source,
            "-af",
            f"silencedetect=noise={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_SECONDS},"
            "loudnorm=print_format=json",
            "-f",
            "null",
            "-",
        ],
        timeout=ctx.settings.timeout_seconds,
        what="loudness and silence analysis",
    )
    log = measured.stderr.decode(errors="replace")
    duration = (ctx.probe or {}).get("duration")
    silences = parse_silences(log, duration)
    wav = ctx.workdir / "audio.wav"
    await run_checked(
        ["ffmpeg", *FFMPEG_QUIET, "-loglevel", "error", *source, *EXTRACT_AS, f"file:{wav}"],
        timeout=ctx.settings.timeout_seconds,
        what="audio extraction",
    )
    ctx.audio_wav = wav
    stream = streams[0]
    return {
        "codec": stream.get("codec"),
        "sample_rate": stream.get("sample_rate"),
        "channels": stream.get("channels"),
        "loudness": parse_loudness(log),
        "silences": silences,
        "silence_seconds": round(sum(s["duration"] for s in silences), 3),
        "silence_threshold_db": SILENCE_NOISE_DB,
        "extracted": {"format": "wav", "sample_rate": 16000, "channels": 1},
    }
