"""What the downloaded content is, when the client said ``unknown`` (or to
tell a document's kind): magic bytes first, then the probe, then the
server's Content-Type."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

DocumentKind = Literal["pdf", "html", "text"]

HEAD_BYTES = 8192
IMAGE_FORMATS = frozenset({"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "gif"})
IMAGE_CODECS = frozenset({"png", "mjpeg", "webp", "bmp", "gif", "tiff", "jpeg2000"})


def read_head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(HEAD_BYTES)


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_like_text(head: bytes) -> bool:
    """UTF-8 without control characters other than whitespace."""
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":  # only a character cut at the end is forgiven
            return False
        text = head[: exc.start].decode("utf-8")
    return not any(ord(c) < 32 and c not in "\t\n\r\f" for c in text)


def document_kind(head: bytes, content_type: str | None) -> DocumentKind | None:
    """The document kind of content, or None when it is not a document we read."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if not looks_like_text(head):
        return None
    start = head.lstrip()[:64].lower()
    if start.startswith((b"<!doctype html", b"<html")) or _base_type(content_type) in (
        "text/html",
        "application/xhtml+xml",
    ):
        return "html"
    return "text"


def media_type_from_probe(probe: dict[str, Any]) -> str:
    """video, audio or image, from the streams ffprobe found."""
    streams = probe.get("streams", [])
    video = [s for s in streams if s.get("type") == "video"]
    if video:
        fmt = str(probe.get("format") or "")
        still = fmt in IMAGE_FORMATS or fmt.endswith("_pipe")
        if still or (video[0].get("codec") in IMAGE_CODECS and not probe.get("duration")):
            return "image"
        return "video"
    return "audio"
