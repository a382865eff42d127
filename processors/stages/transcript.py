"""The transcript stage: the extracted audio through Deepgram when
DEEPGRAM_API_KEY is set, otherwise through the offline faster-whisper. The
whole transcript is kept as artifacts (JSON, SRT, WebVTT); the results hold
a bounded excerpt and their links."""

from __future__ import annotations

import asyncio
from typing import Any

from processors.errors import StageError
from processors.stages.context import StageContext, StageSettings, StageSkipped
from processors.transcription import subtitles
from processors.transcription.deepgram import DeepgramTranscriber
from processors.transcription.port import Transcriber
from processors.transcription.whisper import WhisperTranscriber


def choose_transcriber(settings: StageSettings, timeout_seconds: float) -> Transcriber:
    if settings.deepgram_api_key:
        return DeepgramTranscriber(
            settings.deepgram_api_key,
            settings.deepgram_base_url,
            settings.deepgram_model,
            timeout_seconds,
        )
    return WhisperTranscriber(
        settings.whisper_model,
        settings.whisper_cpu_threads,
        chunk_seconds=settings.transcription_chunk_seconds,
        limits=settings.child_limits,
        timeout_seconds=timeout_seconds,
    )


async def transcribe(ctx: StageContext) -> dict[str, Any]:
    if not ctx.option("transcribe_audio"):
        raise StageSkipped("transcribe_audio was not requested")
    if ctx.audio_wav is None:
        raise StageSkipped("the media has no audio stream")
    timeout = ctx.stage_timeout
    transcriber = choose_transcriber(ctx.settings, timeout)
    try:
        async with asyncio.timeout(timeout):
            transcript = await transcriber.transcribe(ctx.audio_wav, ctx.progress)
    except TimeoutError as exc:
        raise StageError(f"transcription took longer than {timeout:g}s") from exc
    # Later stages (the answer) read the whole transcript; the results keep an excerpt.
    ctx.outputs["transcript"] = transcript.as_dict()
    result = transcript.excerpt()
    result["files"] = {
        "json": await ctx.keep(
            "transcript.json", subtitles.write_json(transcript, ctx.workdir / "transcript.json")
        ),
        "srt": await ctx.keep(
            "transcript.srt", subtitles.write_srt(transcript, ctx.workdir / "transcript.srt")
        ),
        "vtt": await ctx.keep(
            "transcript.vtt", subtitles.write_vtt(transcript, ctx.workdir / "transcript.vtt")
        ),
    }
    return result
