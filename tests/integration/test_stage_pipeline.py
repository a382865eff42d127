"""The pipeline with its providers configured: the real deepgram-sdk and
openai clients against local servers on 127.0.0.1 that speak the providers'
documented protocols, real ffmpeg and real media. run_analysis is called
directly and the events it emits are what is checked."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from events import (
    AnalysisCompleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
)
from infra.artifacts import LocalArtifactStore
from processors.fetch import MediaFetcher
from processors.pipeline import PipelineConfig, run_analysis
from processors.stages.context import StageSettings
from tests.conftest import MediaServer
from tests.provider_servers import ProviderServer, chat_completion, deepgram_listen_response
from tests.stage_samples import assert_valid_results, minimal_pdf, speech_video

SPOKEN = [("We", 0.1, 0.3), ("will", 0.3, 0.5), ("walk", 0.5, 0.8), ("home.", 0.8, 1.2)]


@pytest.fixture
def deepgram() -> Iterator[ProviderServer]:
    server = ProviderServer("/v1/listen", deepgram_listen_response(SPOKEN))
    yield server
    server.close()


@pytest.fixture
def llm() -> Iterator[ProviderServer]:
    answer = {"summary": "Someone says they will walk home.", "topics": ["walking", "home"]}
    server = ProviderServer("/v1/chat/completions", chat_completion(json.dumps(answer)))
    yield server
    server.close()


@pytest.fixture
def video_url(media_server: MediaServer) -> str:
    name = f"talk-{uuid4().hex[:8]}.mp4"
    speech_video(media_server.directory / name, "We will walk home")
    return media_server.url(name)


def config(tmp_path: Path, **stages: Any) -> PipelineConfig:
    return PipelineConfig(
        processor_id="test",
        work_dir=tmp_path / "work",
        fetcher=MediaFetcher(
            [ipaddress.ip_network("127.0.0.1/32")], max_bytes=50_000_000, timeout_seconds=30
        ),
        stages=StageSettings(artifacts=LocalArtifactStore(tmp_path / "artifacts"), **stages),
    )


async def analyse(
    url: str, cfg: PipelineConfig, media_type: str = "video", **options: bool
) -> list[AnalysisEvent]:
    events: list[AnalysisEvent] = []

    async def emit(event: AnalysisEvent) -> None:
        events.append(event)

    request = AnalysisRequested(
        analysis_id=uuid4(),
        prompt="Where are they going?",
        media_url=url,
        media_type=media_type,  # type: ignore[arg-type]
        options=options,
    )
    try:
        await run_analysis(request, emit, cfg)
    finally:
        await cfg.fetcher.aclose()
    return events


def assert_one_outcome_after_rising_progress(events: list[AnalysisEvent]) -> None:
    assert isinstance(events[0], AnalysisStarted)
    outcomes = [e for e in events if isinstance(e, AnalysisCompleted | AnalysisFailed)]
    assert len(outcomes) == 1
    assert events[-1] is outcomes[0]
    progress = [e.progress for e in events if isinstance(e, AnalysisProgressed)]
    assert progress == sorted(progress)


async def test_given_deepgram_and_an_llm_when_a_video_is_analysed_then_both_providers_answer(
    tmp_path: Path, video_url: str, deepgram: ProviderServer, llm: ProviderServer
) -> None:
    cfg = config(
        tmp_path,
        deepgram_api_key="dg-test-key",
        deepgram_base_url=deepgram.base_url,
        llm_base_url=f"{llm.base_url}/v1",
        llm_api_key="llm-test-key",
        llm_model="local-model",
    )

    events = await analyse(video_url, cfg, transcribe_audio=True)

    assert_one_outcome_after_rising_progress(events)
    done = events[-1]
    assert isinstance(done, AnalysisCompleted)
    assert_valid_results(done.results)
    progressed = [e for e in events if isinstance(e, AnalysisProgressed)]
    assert [e.stage for e in progressed][-2:] == ["transcript", "answer"]
    assert progressed[-1].progress == 100
    assert all(e.stage_status != "failed" for e in progressed)

    (listen,) = deepgram.requests
    assert listen.headers["authorization"] == "Token dg-test-key"
    assert listen.query["model"] == ["nova-3"]
    assert listen.query["utterances"] == ["true"]
    assert listen.body[:4] == b"RIFF"  # the extracted WAV
    transcript = done.results["transcript"]
    assert transcript["engine"] == "deepgram"
    assert transcript["text"] == "We will walk home."
    assert transcript["language"] == "en"
    assert [w["word"] for w in transcript["words"]] == ["We", "will", "walk", "home."]
    assert transcript["segments"] == [{"start": 0.1, "end": 1.2, "text": "We will walk home."}]

    (chat,) = llm.requests
    assert chat.headers["authorization"] == "Bearer llm-test-key"
    sent = json.loads(chat.body)
    assert sent["model"] == "local-model"
    assert sent["response_format"]["type"] == "json_schema"
    user = sent["messages"][-1]["content"]
    assert isinstance(user, str)  # no pictures for a model not marked vision-capable
    assert "Where are they going?" in user
    assert "We will walk home." in user  # the transcript is context
    assert '"container": "mov,mp4,m4a,3gp,3g2,mj2"' in user  # and the probe
    assert done.summary == "Someone says they will walk home."
    assert done.topics == ["walking", "home"]
    answer = done.results["answer"]
    assert (answer["method"], answer["model"], answer["structured"]) == ("llm", "local-model", True)
    assert answer["usage"] == {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    assert "We will walk home." in answer["extractive"]["summary"]


async def test_given_an_llm_that_answers_in_prose_then_its_text_is_the_summary(
    tmp_path: Path, media_server: MediaServer, llm: ProviderServer
) -> None:
    llm.reply = chat_completion("It is a two page report about tomatoes.")
    name = f"report-{uuid4().hex[:8]}.pdf"
    minimal_pdf(media_server.directory / name)

    events = await analyse(
        media_server.url(name), config(tmp_path, llm_base_url=f"{llm.base_url}/v1"), "document"
    )

    done = events[-1]
    assert isinstance(done, AnalysisCompleted), done
    assert done.summary == "It is a two page report about tomatoes."
    assert done.results["answer"]["structured"] is False
    assert done.topics == done.results["answer"]["extractive"]["topics"]  # the text's keyphrases
    assert any("Tomatoes" in topic for topic in done.topics)
    assert (
        "Tomatoes grew well this summer"
        in json.loads(llm.requests[0].body)["messages"][-1]["content"]
    )


async def test_given_an_llm_answering_503_then_the_extractive_summary_stands_with_the_reason(
    tmp_path: Path, media_server: MediaServer, llm: ProviderServer
) -> None:
    llm.status, llm.reply = 503, {"error": {"message": "overloaded", "type": "server_error"}}
    name = f"report-{uuid4().hex[:8]}.pdf"
    minimal_pdf(media_server.directory / name)

    events = await analyse(
        media_server.url(name), config(tmp_path, llm_base_url=f"{llm.base_url}/v1"), "document"
    )

    assert_one_outcome_after_rising_progress(events)
    done = events[-1]
    assert isinstance(done, AnalysisCompleted), done
    assert_valid_results(done.results)
    answer = done.results["answer"]
    assert answer["method"] == "extractive"
    assert "Tomatoes grew well this summer." in done.summary
    assert answer["llm_error"]["code"] == "provider_failed"
    assert "HTTP 503" in answer["llm_error"]["message"]
    assert done.results["stages"]["answer"]["status"] == "completed"
    assert len(llm.requests) == 1  # the SDK's own retries are off; a 503 names no format


async def test_given_deepgram_refusing_the_audio_then_the_transcript_fails_and_the_rest_completes(
    tmp_path: Path, video_url: str, deepgram: ProviderServer
) -> None:
    deepgram.status, deepgram.reply = 400, {"err_code": "Bad Request", "err_msg": "corrupt"}
    cfg = config(tmp_path, deepgram_api_key="k", deepgram_base_url=deepgram.base_url)

    events = await analyse(video_url, cfg, transcribe_audio=True, extract_frames=True)

    done = events[-1]
    assert isinstance(done, AnalysisCompleted), done
    assert_valid_results(done.results)
    stage = done.results["stages"]["transcript"]
    assert stage["status"] == "failed"
    assert stage["error"]["code"] == "provider_failed"
    assert stage["error"]["retryable"] is False
    assert "HTTP 400" in stage["error"]["message"]
    assert done.results["stages"]["frames"]["status"] == "completed"
    assert "transcript" not in done.results
