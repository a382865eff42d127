"""The transcript stage: the extracted audio through Deepgram when
DEEPGRAM_API_KEY is set, otherwise through the offline faster-whisper."""

from __future__ import annotations

import asyncio
from typing import Any

from processors.errors import StageError
from processors.stages.context import StageContext, StageSettings, StageSkipped
from processors.transcription.deepgram import DeepgramTranscriber
from processors.transcription.port import Transcriber
from processors.transcription.whisper import WhisperTranscriber


def choose_transcriber(settings: StageSettings) -> Transcriber:
    if settings.deepgram_api_key:
        return DeepgramTranscriber(
            settings.deepgram_api_key,
            settings.deepgram_base_url,
            settings.deepgram_model,
            settings.timeout_seconds,
        )
    return WhisperTranscriber(settings.whisper_model, settings.whisper_cpu_threads)


async def transcribe(ctx: StageContext) -> dict[str, Any]:
    if not ctx.option("transcribe_audio"):
        raise StageSkipped("transcribe_audio was not requested")
    if ctx.audio_wav is None:
        raise StageSkipped("the media has no audio stream")
    transcriber = choose_transcriber(ctx.settings)
    try:
        async with asyncio.timeout(ctx.settings.timeout_seconds):
            transcript = await transcriber.transcribe(ctx.audio_wav)
    except TimeoutError as exc:
        raise StageError(
            f"transcription took longer than {ctx.settings.timeout_seconds:g}s"
        ) from exc
    return transcript.as_dict()
