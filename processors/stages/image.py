"""The image stage: dimensions and format from the probe, and a thumbnail
(at most 320 pixels wide) as a JPEG artifact."""

from __future__ import annotations

from typing import Any

from processors.stages.context import StageContext, StageSkipped
from processors.stages.frames import grab_picture

THUMBNAIL_WIDTH = 320


async def describe_image(ctx: StageContext) -> dict[str, Any]:
    video = ctx.streams("video")
    if not video:
        raise StageSkipped("the image has no picture stream")
    picture = video[0]
    target = ctx.workdir / "thumbnail.jpg"
    await grab_picture(ctx, target, f"scale='min({THUMBNAIL_WIDTH},iw)':-2", "thumbnail")
    return {
        "width": picture.get("width"),
        "height": picture.get("height"),
        "format": picture.get("codec"),
        "container": (ctx.probe or {}).get("format"),
        "thumbnail": await ctx.keep("thumbnail.jpg", target),
    }
