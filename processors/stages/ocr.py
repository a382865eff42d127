"""The OCR stage: text read from pictures (slides, captions, signs, scans).
Video: the frames the frames stage took (or a few grabbed here when none
were requested), at most OCR_MAX_FRAMES; an image: the picture, scaled to
at most OCR_MAX_SIDE pixels; a PDF: the pictures on its pages without a
text layer, at most OCR_MAX_PAGES. Each picture's lines come with their
confidence and box; the text feeds the answer stage."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from processors.errors import StageError
from processors.ocr_engine import TextLine, TextReader, text_reader
from processors.stages.context import StageContext, StageSkipped
from processors.stages.frames import grab_frame, grab_picture, timestamps, video_duration


def _item(lines: list[TextLine], **where: Any) -> dict[str, Any]:
    confidence = sum(line.confidence for line in lines) / len(lines) if lines else None
    return {
        **where,
        "text": "\n".join(line.text for line in lines),
        "confidence": round(confidence, 3) if confidence is not None else None,
        "lines": [line.as_dict() for line in lines],
    }


def _spread(items: list[Any], count: int) -> list[Any]:
    """At most ``count`` of ``items``, evenly spaced, in order."""
    if len(items) <= count:
        return items
    return [items[(2 * i + 1) * len(items) // (2 * count)] for i in range(count)]


async def _frames(ctx: StageContext, limit: int) -> list[tuple[Path, float]]:
    if ctx.frames:
        return _spread(ctx.frames, limit)
    duration = video_duration(ctx)
    grabbed = []
    for index, at in enumerate(timestamps(duration, limit) if duration > 0 else [0.0], 1):
        target = ctx.workdir / f"ocr-frame-{index:02d}.jpg"
        await grab_frame(ctx, at, target)
        if target.exists():
            grabbed.append((target, at))
    return grabbed


async def _scaled_image(ctx: StageContext) -> Path:
    side = ctx.settings.ocr_max_side
    target = ctx.workdir / "ocr-image.png"
    scale = f"scale='min({side},iw)':'min({side},ih)':force_original_aspect_ratio=decrease"
    await grab_picture(ctx, target, scale, "image scaling for OCR")
    return target


def page_pictures(pdf: Path, pages: list[int], workdir: Path, side: int) -> list[tuple[Path, int]]:
    """The pictures on ``pages`` (1-based) of ``pdf``, each scaled to at most
    ``side`` pixels, written as PNG (blocking: run in a thread)."""
    try:
        reader = PdfReader(pdf)
        found = []
        for number in pages:
            for index, image in enumerate(reader.pages[number - 1].images):
                picture = image.image
                if picture is None:
                    continue
                picture.thumbnail((side, side))
                target = workdir / f"ocr-page-{number:03d}-{index:02d}.png"
                buffer = io.BytesIO()
                picture.convert("RGB").save(buffer, format="PNG")
                target.write_bytes(buffer.getvalue())
                found.append((target, number))
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise StageError(f"the PDF's page images cannot be read: {exc}") from exc
    return found


async def _read(reader: TextReader, picture: Path) -> list[TextLine]:
    return await asyncio.to_thread(reader.read, picture)


async def read_text(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    reader = text_reader(s.ocr_threads, s.ocr_min_confidence)
    items: list[dict[str, Any]] = []
    if ctx.media_type == "video":
        if not ctx.streams("video"):
            raise StageSkipped("the media has no video stream")
        if s.ocr_max_frames == 0:
            raise StageSkipped("OCR of frames is off (OCR_MAX_FRAMES=0)")
        for path, at in await _frames(ctx, s.ocr_max_frames):
            items.append(_item(await _read(reader, path), source="frame", timestamp=at))
    elif ctx.media_type == "image":
        if not ctx.streams("video"):
            raise StageSkipped("the image has no picture stream")
        items.append(_item(await _read(reader, await _scaled_image(ctx)), source="image"))
    elif ctx.media_type == "document":
        document = ctx.outputs.get("document") or {}
        if document.get("kind") != "pdf":
            raise StageSkipped("only PDF pages are read by OCR")
        blank = list(document.get("pages_without_text") or [])
        if not blank:
            raise StageSkipped("every page has a text layer")
        pictures = await asyncio.to_thread(
            page_pictures, ctx.media, blank[: s.ocr_max_pages], ctx.workdir, s.ocr_max_side
        )
        if not pictures:
            raise StageSkipped("the pages without a text layer hold no pictures")
        for path, page in pictures:
            items.append(_item(await _read(reader, path), source="page", page=page))
    else:
        raise StageSkipped(f"no pictures in {ctx.media_type} media")
    text = "\n".join(item["text"] for item in items if item["text"])
    return {
        "engine": reader.name,
        "pictures": len(items),
        "line_count": sum(len(item["lines"]) for item in items),
        "text": text,
        "items": items,
    }
