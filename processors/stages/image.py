"""The image stage: dimensions and format from the probe, and a thumbnail
(at most 320 pixels wide) as a JPEG artifact."""

from __future__ import annotations

from typing import Any

from processors.ffmpeg_input import safe_input_options
from processors.media_tool import FFMPEG_QUIET, run_checked
from processors.stages.context import StageContext, StageSkipped

THUMBNAIL_WIDTH = 320


async def describe_image(ctx: StageContext) -> dict[str, Any]:
    video = ctx.streams("video")
    if not video:
        raise StageSkipped("the image has no picture stream")
    picture = video[0]
    target = ctx.workdir / "thumbnail.jpg"
    await run_checked(
        [
            "ffmpeg",
            *FFMPEG_QUIET,
            "-loglevel",
            "error",
            *safe_input_options(),
            "-i",
            f"file:{ctx.media}",
            "-map",
            "0:v:0",
            "-frames:v",
            "1",
            "-vf",
            f"scale='min({THUMBNAIL_WIDTH},iw)':-2",
            "-q:v",
            "3",
            "-update",
            "1",
            f"file:{target}",
        ],
        timeout=ctx.settings.timeout_seconds,
        what="thumbnail",
    )
    return {
        "width": picture.get("width"),
        "height": picture.get("height"),
        "format": picture.get("codec"),
        "container": (ctx.probe or {}).get("format"),
        "thumbnail": await ctx.keep("thumbnail.jpg", target),
    }
