"""The answer stage: the client's prompt answered by the configured LLM,
given the probe summary, transcript, document text and image facts as
context. Its summary and topics become the analysis's ``result_summary``."""

from __future__ import annotations

import json
from typing import Any

from processors.llm import LLM, OpenAICompatibleLLM
from processors.stages.context import StageContext, StageSkipped

MAX_CONTEXT_CHARS = 12_000

SYSTEM = (
    "You analyse media for a user. You get facts extracted from one media file "
    "(technical probe, transcript, document text, image facts) and the user's "
    "question. Answer only from those facts. Reply with JSON only: "
    '{"summary": "<your answer to the question>", "topics": ["<topic>", ...]} '
    "with at most 8 short topics."
)


def _probe_facts(probe: dict[str, Any]) -> dict[str, Any]:
    return {
        "container": probe.get("format"),
        "duration_seconds": probe.get("duration"),
        "streams": [
            {k: v for k, v in s.items() if v is not None and k not in ("index", "bit_rate")}
            for s in probe.get("streams", [])
        ],
    }


def build_context(ctx: StageContext) -> str:
    """The facts the model gets, most useful first, bounded in size."""
    parts = [f"Declared media type: {ctx.request.media_type}; detected: {ctx.media_type}."]
    if ctx.request.filename:
        parts.append(f"File name: {ctx.request.filename}")
    if ctx.probe:
        parts.append("Probe: " + json.dumps(_probe_facts(ctx.probe)))
    if (image := ctx.outputs.get("image")) is not None:
        parts.append(f"Image: {image.get('width')}x{image.get('height')} {image.get('format')}")
    if (audio := ctx.outputs.get("audio")) is not None:
        parts.append("Audio loudness: " + json.dumps(audio.get("loudness")))
    if (transcript := ctx.outputs.get("transcript")) is not None:
        parts.append(f"Transcript ({transcript.get('language')}): {transcript.get('text')}")
    if (document := ctx.outputs.get("document")) is not None:
        parts.append(
            f"Document ({document.get('kind')}, {document.get('page_count') or 'unpaged'} "
            f"pages, {document.get('word_count')} words): {document.get('text')}"
        )
    return "\n\n".join(parts)[:MAX_CONTEXT_CHARS]


def build_llm(ctx: StageContext) -> LLM | None:
    s = ctx.settings
    if not s.llm_base_url:
        return None
    model = str(ctx.request.config.get("llm_model") or s.llm_model)
    return OpenAICompatibleLLM(s.llm_base_url, s.llm_api_key, model, s.llm_timeout_seconds)


async def answer(ctx: StageContext) -> dict[str, Any]:
    llm = build_llm(ctx)
    if llm is None:
        raise StageSkipped("no LLM provider configured")
    user = f"Facts:\n{build_context(ctx)}\n\nQuestion: {ctx.request.prompt}"
    reply = await llm.answer(SYSTEM, user)
    return {
        "model": llm.model,
        "summary": reply.summary,
        "topics": reply.topics,
        "structured": reply.structured,
    }
