"""The document stage: text of a PDF (pypdf), an HTML page (visible text) or
plain text, with page and word counts; PDF pages without a text layer (scans)
are listed for the OCR stage."""

from __future__ import annotations

import asyncio
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from processors.errors import DocumentUnreadable
from processors.sniff import document_kind, read_head
from processors.stages.context import StageContext

MAX_TEXT_CHARS = 20_000
"""Text kept in the results (they travel in one Kafka record); counts cover all of it."""
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


class _VisibleText(HTMLParser):
    SKIP = frozenset({"script", "style", "head", "template", "noscript"})
    BLOCK = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skipping += 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data.strip()
        elif not self._skipping:
            self.parts.append(data)


def _tidy(text: str) -> str:
    lines = (re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def extract(path: Path, content_type: str | None) -> dict[str, Any]:
    """Text and counts of the document at ``path`` (blocking: run in a thread)."""
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise DocumentUnreadable(f"documents over {MAX_DOCUMENT_BYTES} bytes are not read")
    kind = document_kind(read_head(path), content_type)
    data = path.read_bytes()
    title: str | None = None
    pages: int | None = None
    blank: list[int] = []
    if kind == "pdf":
        try:
            reader = PdfReader(io.BytesIO(data))
            pages = len(reader.pages)
            texts = [page.extract_text() or "" for page in reader.pages]
            blank = [number for number, t in enumerate(texts, 1) if not t.strip()]
            text = "\n\n".join(texts)
            meta = reader.metadata
            title = str(meta.title) if meta is not None and meta.title else None
        except (PyPdfError, ValueError, KeyError, TypeError) as exc:
            raise DocumentUnreadable(f"the PDF cannot be read: {exc}") from exc
    elif kind == "html":
        parser = _VisibleText()
        parser.feed(_decode(data))
        parser.close()
        text, title = "".join(parser.parts), parser.title
    elif kind == "text":
        text = _decode(data)
    else:
        raise DocumentUnreadable("the document is not PDF, HTML or plain text")
    text = _tidy(text)
    return {
        "kind": kind,
        "title": title,
        "page_count": pages,
        "pages_without_text": blank,
        "word_count": len(text.split()),
        "character_count": len(text),
        "text": text[:MAX_TEXT_CHARS],
        "text_truncated": len(text) > MAX_TEXT_CHARS,
    }


async def extract_document(ctx: StageContext) -> dict[str, Any]:
    return await asyncio.to_thread(extract, ctx.media, ctx.content_type)
