"""Representative frames (evenly spaced over the duration) as JPEG artifacts,
and a contact sheet: one tiled JPEG of those frames with their timestamps."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ffmpeg

from processors.ffmpeg_input import safe_input_options
from processors.media_tool import FFMPEG_QUIET, run_checked
from processors.stages.context import StageContext, StageSkipped

MAX_FRAME_WIDTH = 1280
TILE_WIDTH = 320
MAX_FRAME_COUNT = 24


def frame_count(ctx: StageContext) -> int:
    """The request's ``config.frame_count`` if given, else FRAME_COUNT."""
    wanted = ctx.request.config.get("frame_count", ctx.settings.frame_count)
    try:
        return max(1, min(MAX_FRAME_COUNT, int(wanted)))
    except (TypeError, ValueError):
        return ctx.settings.frame_count


def timestamps(duration: float, count: int) -> list[float]:
    """``count`` instants spread evenly, each in the middle of its slice."""
    return [round(duration * (i + 0.5) / count, 3) for i in range(count)]


def label(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:02d}:{minutes:02d}:{secs:06.3f}"


def video_duration(ctx: StageContext) -> float:
    video = ctx.streams("video")
    stream = video[0].get("duration") if video else None
    return float((ctx.probe or {}).get("duration") or stream or 0)


async def grab_picture(
    ctx: StageContext, target: Path, scale: str, what: str, at: float | None = None
) -> None:
    """One picture of the media's first video stream (at ``at`` seconds, else the
    first), passed through the ``scale`` filter, written to ``target`` (JPEG
    quality 3 when ``target`` is a JPEG); no file when ``at`` is past the last
    decodable frame."""
    seek = ["-ss", f"{at:.3f}"] if at is not None else []
    quality = ["-q:v", "3"] if target.suffix == ".jpg" else []
    await run_checked(
        ctx.settings.child_limits.command(
            [
                "ffmpeg",
                *FFMPEG_QUIET,
                "-loglevel",
                "error",
                *seek,
                *safe_input_options(),
                "-i",
                f"file:{ctx.media}",
                "-map",
                "0:v:0",
                "-frames:v",
                "1",
                "-vf",
                scale,
                *quality,
                "-update",
                "1",
                f"file:{target}",
            ]
        ),
        timeout=ctx.stage_timeout,
        what=what,
    )


async def grab_frame(ctx: StageContext, at: float, target: Path) -> None:
    """The frame at ``at`` seconds as a JPEG at most MAX_FRAME_WIDTH wide."""
    scale = f"scale='min({MAX_FRAME_WIDTH},iw)':-2"
    await grab_picture(ctx, target, scale, f"frame extraction at {at:.3f}s", at=at)


async def extract_frames(ctx: StageContext) -> dict[str, Any]:
    if not (ctx.option("extract_frames") or ctx.option("generate_contact_sheet")):
        raise StageSkipped("neither extract_frames nor generate_contact_sheet was requested")
    video = ctx.streams("video")
    if not video:
        raise StageSkipped("the media has no video stream")
    duration = video_duration(ctx)
    count = frame_count(ctx) if duration > 0 else 1
    frames = []
    for index, at in enumerate(timestamps(duration, count) if duration > 0 else [0.0], 1):
        name = f"frame-{index:02d}.jpg"
        target = ctx.workdir / name
        await grab_frame(ctx, at, target)
        if not target.exists():  # past the last decodable frame: nothing to keep
            continue
        ctx.frames.append((target, at))
        frames.append({"timestamp": at, "artifact": await ctx.keep(name, target)})
    if not frames:
        raise StageSkipped("no frame could be decoded from the video stream")
    return {"count": len(frames), "method": "evenly_spaced", "frames": frames}


async def contact_sheet(ctx: StageContext) -> dict[str, Any]:
    if not ctx.option("generate_contact_sheet"):
        raise StageSkipped("generate_contact_sheet was not requested")
    if not ctx.frames:
        raise StageSkipped("there are no frames to tile")
    columns = math.ceil(math.sqrt(len(ctx.frames)))
    rows = math.ceil(len(ctx.frames) / columns)
    text: dict[str, Any] = {"fontsize": 18, "fontcolor": "white", "x": 6, "y": "h-th-6"}
    text.update(box=1, boxcolor="black@0.6", boxborderw=4)
    if ctx.settings.font is not None:
        text["fontfile"] = str(ctx.settings.font)
    tiles = [
        ffmpeg.input(f"file:{path}", protocol_whitelist="file")
        .filter("scale", TILE_WIDTH, -2)
        .drawtext(text=label(at), **text)
        for path, at in ctx.frames
    ]
    target = ctx.workdir / "contact-sheet.jpg"
    args = (
        ffmpeg.concat(*tiles, v=1, a=0)
        .filter("tile", f"{columns}x{rows}", padding=4, margin=4, color="0x202020")
        .output(f"file:{target}", vframes=1, **{"q:v": 3, "update": 1})
        .global_args(*FFMPEG_QUIET, "-loglevel", "error")
        .compile()
    )
    await run_checked(
        ctx.settings.child_limits.command(args), timeout=ctx.stage_timeout, what="contact sheet"
    )
    return {
        "columns": columns,
        "rows": rows,
        "frames": len(ctx.frames),
        "timestamps": [at for _, at in ctx.frames],
        "artifact": await ctx.keep("contact-sheet.jpg", target),
    }
