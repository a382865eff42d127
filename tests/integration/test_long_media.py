"""Long media's guarantees on short media: progress inside the transcription,
the memory ceiling of a stage's child process, the transcript and silences
kept whole as artifacts. run_analysis is called directly (real ffmpeg, real
faster-whisper in its child process) and its events are what is checked."""

from __future__ import annotations

import ipaddress
import itertools
import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from events import AnalysisCompleted, AnalysisEvent, AnalysisProgressed, AnalysisRequested
from infra.artifacts import LocalArtifactStore
from processors.fetch import MediaFetcher
from processors.limits import ChildLimits
from processors.pipeline import PipelineConfig, run_analysis
from processors.stages.context import StageSettings
from tests.conftest import MediaServer
from tests.stage_samples import SENTENCE, assert_valid_results, speech_wav

SPEECH = ". ".join(
    [
        SENTENCE,
        "Then we will walk back home for dinner",
        "The library stays open late on Thursdays",
        SENTENCE,
        "The garden club finished the new greenhouse",
        "Volunteers bring water and gloves to the spring fair",
        SENTENCE,
    ]
)
"""About 35 seconds of speech: seven chunks of five seconds."""


@pytest.fixture(scope="module")
def speech_url(media_server: MediaServer) -> str:
    name = f"speech-{uuid4().hex[:8]}.wav"
    speech_wav(media_server.directory / name, SPEECH)
    return media_server.url(name)


async def analyse(url: str, tmp_path: Path, **stages: Any) -> list[AnalysisEvent]:
    config = PipelineConfig(
        processor_id="test",
        work_dir=tmp_path / "work",
        fetcher=MediaFetcher(
            [ipaddress.ip_network("127.0.0.1/32")], max_bytes=50_000_000, timeout_seconds=30
        ),
        stages=StageSettings(artifacts=LocalArtifactStore(tmp_path / "artifacts"), **stages),
        progress_interval_seconds=0,
    )
    events: list[AnalysisEvent] = []

    async def emit(event: AnalysisEvent) -> None:
        events.append(event)

    request = AnalysisRequested(
        analysis_id=uuid4(),
        prompt="Where are they going?",
        media_url=url,
        media_type="audio",
        options={"transcribe_audio": True},
    )
    try:
        await run_analysis(request, emit, config)
    finally:
        await config.fetcher.aclose()
    return events


async def test_given_a_recording_in_short_chunks_then_progress_rises_during_its_transcription(
    speech_url: str, tmp_path: Path
) -> None:
    events = await analyse(speech_url, tmp_path, transcription_chunk_seconds=5)

    running = [
        e
        for e in events
        if isinstance(e, AnalysisProgressed)
        and e.stage == "transcript"
        and e.stage_status == "running"
    ]
    rises = [b for a, b in itertools.pairwise(running) if b.progress > a.progress]
    assert len(rises) >= 5, [(e.progress, e.stage_progress) for e in running]
    fractions = [e.stage_progress for e in running]
    assert fractions == sorted(fractions)
    progress = [e.progress for e in events if isinstance(e, AnalysisProgressed)]
    assert progress == sorted(progress)
    done = events[-1]
    assert isinstance(done, AnalysisCompleted)
    assert_valid_results(done.results)
    assert "walk back home" in done.results["transcript"]["text"].lower()
    kept = tmp_path / "artifacts" / str(done.analysis_id)
    whole = json.loads((kept / "transcript.json").read_text())
    assert [s["text"] for s in whole["segments"]] == [
        s["text"] for s in done.results["transcript"]["segments"]
    ]
    silences = json.loads((kept / "silences.json").read_text())
    assert silences == done.results["audio"]["silences"]
    assert done.results["audio"]["silence_count"] == len(silences)


async def test_given_a_memory_ceiling_too_low_for_the_model_then_the_stage_fails_with_its_code(
    speech_url: str, tmp_path: Path
) -> None:
    events = await analyse(speech_url, tmp_path, child_limits=ChildLimits(memory_mb=400))

    done = events[-1]
    assert isinstance(done, AnalysisCompleted)  # the other stages' results stand
    transcript = done.results["stages"]["transcript"]
    assert transcript["status"] == "failed"
    assert transcript["error"]["code"] == "stage_out_of_memory"
    assert "400 MiB" in transcript["error"]["message"]
    assert done.results["stages"]["audio"]["status"] == "completed"
