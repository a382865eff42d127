"""ffprobe on the downloaded file: container, duration, bit rate and streams.

ffprobe reads only the local file (``-protocol_whitelist file``), so a
playlist or concat file inside the media cannot reach the network or other
files. It runs as an asyncio subprocess so a deadline can kill it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from processors.errors import MediaUndecodable
from processors.ffmpeg_input import safe_input_options
from processors.media_tool import run_tool

NOT_MEDIA_FORMATS = frozenset({"tty"})
"""Formats ffprobe 'decodes' from any text file; they are not media."""


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rate(value: Any) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return _number(value)
    num, _, den = value.partition("/")
    n, d = _number(num), _number(den)
    return round(n / d, 3) if n is not None and d else None


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """The probe's raw JSON reduced to what the results document promises."""
    fmt = raw.get("format", {})
    streams = []
    for s in raw.get("streams", []):
        stream: dict[str, Any] = {
            "index": s.get("index"),
            "type": s.get("codec_type"),
            "codec": s.get("codec_name"),
            "duration": _number(s.get("duration")),
            "bit_rate": _number(s.get("bit_rate")),
        }
        if s.get("codec_type") == "video":
            stream.update(
                width=s.get("width"),
                height=s.get("height"),
                frame_rate=_rate(s.get("avg_frame_rate")),
            )
        if s.get("codec_type") == "audio":
            stream.update(
                sample_rate=_number(s.get("sample_rate")),
                channels=s.get("channels"),
            )
        streams.append(stream)
    return {
        "format": fmt.get("format_name"),
        "format_long_name": fmt.get("format_long_name"),
        "duration": _number(fmt.get("duration")),
        "size": _number(fmt.get("size")),
        "bit_rate": _number(fmt.get("bit_rate")),
        "streams": streams,
    }


async def probe_media(path: Path, *, timeout_seconds: float = 60) -> dict[str, Any]:
    """Probe ``path``; raise MediaUndecodable when it is not media."""
    run = await run_tool(
        [
            "ffprobe",
            "-v",
            "error",
            *safe_input_options(),
            "-show_format",
            "-show_streams",
            "-of",
            "json",
            f"file:{path}",
        ],
        timeout=timeout_seconds,
        what="ffprobe",
    )
    if run.returncode != 0:
        raise MediaUndecodable(f"not decodable as media: {run.last_error_line()}")
    raw = json.loads(run.stdout or b"{}")
    if raw.get("format", {}).get("format_name") in NOT_MEDIA_FORMATS:
        raise MediaUndecodable("not decodable as media: the file is text, not audio or video")
    if not raw.get("streams"):
        raise MediaUndecodable("not decodable as media: no audio, video or image stream found")
    return summarise(raw)
