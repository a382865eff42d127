"""The answer stage: always an extractive summary and keyphrases taken from
the media itself (method ``extractive``); when LLM_BASE_URL is set, the
client's prompt answered by that model from the same facts (method ``llm``),
with the frames and contact sheet as pictures for a vision-capable model
(LLM_VISION). Any LLM failure leaves the extractive answer in place and
says why (``llm_error``). Its summary and topics become the analysis's
``result_summary``."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from processors.answering.extractive import clock, summarise
from processors.answering.llm_answer import Limits, answer_question
from processors.errors import StageError
from processors.llm import LLM, OpenAICompatibleLLM
from processors.stages.context import StageContext


def _probe_facts(probe: dict[str, Any]) -> dict[str, Any]:
    return {
        "container": probe.get("format"),
        "duration_seconds": probe.get("duration"),
        "streams": [
            {k: v for k, v in s.items() if v is not None and k not in ("index", "bit_rate")}
            for s in probe.get("streams", [])
        ],
    }


def build_facts(ctx: StageContext, description: str) -> tuple[str, list[str]]:
    """The facts about the media (short) and its words, one line per segment,
    paragraph or picture, with timestamps where they exist."""
    parts = [f"Declared media type: {ctx.request.media_type}; detected: {ctx.media_type}."]
    parts.append(f"Description: {description}.")
    if ctx.request.filename:
        parts.append(f"File name: {ctx.request.filename}")
    if ctx.probe:
        parts.append("Probe: " + json.dumps(_probe_facts(ctx.probe)))
    if (audio := ctx.outputs.get("audio")) is not None:
        parts.append("Audio loudness: " + json.dumps(audio.get("loudness")))
    words: list[str] = []
    if (transcript := ctx.outputs.get("transcript")) is not None:
        parts.append(f"Transcript language: {transcript.get('language')}")
        segments = transcript.get("segments") or [{"text": transcript.get("text")}]
        for segment in segments:
            start = segment.get("start")
            stamp = f"[{clock(start)}] " if start is not None else ""
            words.append(f"{stamp}{str(segment.get('text') or '').strip()}")
    if (document := ctx.outputs.get("document")) is not None:
        parts.append(
            f"Document: {document.get('kind')}, {document.get('page_count') or 'unpaged'} pages, "
            f"{document.get('word_count')} words, title {document.get('title')!r}"
        )
        words += [p for p in str(document.get("text") or "").split("\n\n") if p.strip()]
    if (ocr := ctx.outputs.get("ocr")) is not None:
        for item in ocr.get("items") or []:
            if not item.get("text"):
                continue
            where = (
                f"[{clock(item['timestamp'])}, on screen]"
                if item.get("timestamp") is not None
                else f"[text in picture{', page ' + str(item['page']) if item.get('page') else ''}]"
            )
            words.append(f"{where} {' / '.join(str(item['text']).splitlines())}")
    return "\n".join(parts), [w for w in words if w.strip()]


def pictures(ctx: StageContext) -> tuple[str, ...]:
    """The contact sheet first, then frames (or the image's thumbnail), as
    ``data:`` URLs, at most LLM_VISION_MAX_IMAGES."""
    limit = ctx.settings.llm_vision_max_images
    paths: list[Path] = [ctx.workdir / "contact-sheet.jpg"]
    paths += [path for path, _ in ctx.frames]
    paths.append(ctx.workdir / "thumbnail.jpg")
    found = [p for p in paths if p.is_file()][:limit]
    return tuple(
        "data:image/jpeg;base64," + base64.b64encode(p.read_bytes()).decode() for p in found
    )


def _number(value: Any, kind: type[int] | type[float], default: float) -> Any:
    try:
        return kind(value) if value is not None and not isinstance(value, bool) else kind(default)
    except (TypeError, ValueError):
        return kind(default)


def limits(ctx: StageContext) -> Limits:
    """The request's ``config.max_tokens`` and ``config.temperature`` (PRD
    names), else the settings; bounded to what the context allows."""
    s, config = ctx.settings, ctx.request.config
    max_tokens = _number(config.get("max_tokens"), int, s.llm_max_tokens)
    temperature = _number(config.get("temperature"), float, s.llm_temperature)
    return Limits(
        max_tokens=max(16, min(max_tokens, s.llm_context_tokens // 2)),
        temperature=max(0.0, min(temperature, 2.0)),
        context_tokens=s.llm_context_tokens,
        max_chunks=s.llm_max_chunks,
    )


def build_llm(ctx: StageContext) -> LLM | None:
    s = ctx.settings
    if not s.llm_base_url:
        return None
    config = ctx.request.config
    model = str(config.get("model") or config.get("llm_model") or s.llm_model)
    return OpenAICompatibleLLM(s.llm_base_url, s.llm_api_key, model, s.llm_timeout_seconds)


async def answer(ctx: StageContext) -> dict[str, Any]:
    extractive = await asyncio.to_thread(
        summarise,
        ctx.media_type,
        ctx.probe,
        ctx.outputs,
        ctx.request.prompt,
        ctx.settings.summary_max_chars,
    )
    llm = build_llm(ctx)
    if llm is None:
        return extractive
    bounds = limits(ctx)
    header, words = build_facts(ctx, extractive["description"])
    images = pictures(ctx) if ctx.settings.llm_vision else ()
    asked = {"model": llm.model, "max_tokens": bounds.max_tokens, "temperature": bounds.temperature}
    try:
        outcome = await answer_question(llm, header, words, ctx.request.prompt, images, bounds)
    except StageError as exc:
        error = {"code": exc.code, "message": str(exc), "retryable": exc.retryable}
        return {**extractive, "llm_error": {**error, **asked}}
    finally:
        await llm.aclose()
    reply = outcome.answer
    return {
        **extractive,
        "method": "llm",
        "summary": reply.summary,
        "topics": reply.topics or extractive["topics"],
        **asked,
        "structured": reply.structured,
        "response_format": reply.response_format,
        "usage": outcome.usage.as_dict(),
        "calls": outcome.calls,
        "chunks": outcome.chunks,
        "words_truncated": outcome.truncated,
        "images": len(images),
        "extractive": {"summary": extractive["summary"], "topics": extractive["topics"]},
    }
