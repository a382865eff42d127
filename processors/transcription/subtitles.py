"""A transcript as files: the whole transcript as JSON (segments and words),
and its segments as SRT (``srt``) and WebVTT (``webvtt-py``) subtitles."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import srt
import webvtt

from processors.transcription.port import Transcript


def _vtt_time(seconds: float) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def write_json(transcript: Transcript, path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        json.dump(transcript.as_dict(), out, ensure_ascii=False)
    return path


def write_srt(transcript: Transcript, path: Path) -> Path:
    cues = (
        srt.Subtitle(
            index,
            timedelta(seconds=segment.start),
            timedelta(seconds=max(segment.end, segment.start)),
            segment.text,
        )
        for index, segment in enumerate((s for s in transcript.segments if s.text), 1)
    )
    path.write_text(srt.compose(cues, reindex=False), encoding="utf-8")
    return path


def write_vtt(transcript: Transcript, path: Path) -> Path:
    captions = [
        webvtt.Caption(_vtt_time(s.start), _vtt_time(max(s.end, s.start)), s.text)
        for s in transcript.segments
        if s.text
    ]
    webvtt.WebVTT(captions=captions).save(str(path))
    return path
