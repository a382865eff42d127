"""Transcription through Deepgram's pre-recorded API (``POST /v1/listen``)
with the official deepgram-sdk. DEEPGRAM_BASE_URL points it at a self-hosted
Deepgram (or a local test server). The SDK's own retries are off: retrying is
the processor runtime's decision."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
from deepgram.core.api_error import ApiError

from processors.errors import ProviderError
from processors.transcription.port import Progress, Segment, Transcript, Word


def _websocket_url(base_url: str) -> str:
    return "ws" + base_url[4:] if base_url.startswith("http") else base_url


class DeepgramTranscriber:
    engine = "deepgram"

    def __init__(self, api_key: str, base_url: str, model: str, timeout: float) -> None:
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self.model = model
        self._timeout = timeout

    async def transcribe(self, audio: Path, progress: Progress | None = None) -> Transcript:
        payload = await asyncio.to_thread(audio.read_bytes)
        ws = _websocket_url(self._base_url)
        environment = DeepgramClientEnvironment(
            base=self._base_url, production=ws, agent=ws, agent_rest=self._base_url
        )
        async with httpx.AsyncClient(timeout=self._timeout, trust_env=False) as http:
            client = AsyncDeepgramClient(
                api_key=self._api_key,
                environment=environment,
                httpx_client=http,
                timeout=self._timeout,
                max_retries=0,
            )
            try:
                response: Any = await client.listen.v1.media.transcribe_file(
                    request=payload,
                    model=self.model,
                    smart_format=True,
                    punctuate=True,
                    utterances=True,
                    detect_language=True,
                )
            except ApiError as exc:
                status = exc.status_code or 0
                raise ProviderError(
                    f"Deepgram answered HTTP {status}: {str(exc.body)[:200]}",
                    retryable=status == 429 or status >= 500,
                ) from exc
            except httpx.HTTPError as exc:
                raise ProviderError(f"cannot reach Deepgram: {exc}", retryable=True) from exc
        return to_transcript(response, self.model)


def to_transcript(response: Any, model: str) -> Transcript:
    """Deepgram's documented response (results.channels[0].alternatives[0],
    results.utterances) as our transcript."""
    results = getattr(response, "results", None)
    channels = list(getattr(results, "channels", None) or [])
    if not channels or not channels[0].alternatives:
        raise ProviderError("Deepgram's answer holds no transcript", retryable=False)
    channel = channels[0]
    best = channel.alternatives[0]
    words = [
        Word(
            getattr(w, "punctuated_word", None) or w.word or "",
            w.start or 0.0,
            w.end or 0.0,
            w.confidence,
        )
        for w in best.words or []
    ]
    utterances = list(getattr(results, "utterances", None) or [])
    segments = [
        Segment(u.start or 0.0, u.end or 0.0, (u.transcript or "").strip()) for u in utterances
    ]
    text = (best.transcript or "").strip()
    if not segments and words:
        segments = [Segment(words[0].start, words[-1].end, text)]
    return Transcript("deepgram", model, channel.detected_language, text, segments, words)
