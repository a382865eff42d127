"""The answer and OCR stages through run_analysis with real media: the real
local model (llama.cpp's OpenAI-compatible server with SmolLM2, started by
scripts/run-tests.sh) answering end to end, and loopback servers that record
what the openai SDK sends: structured-output negotiation, garbage answers,
the request's model and limits, pictures for a vision-capable model."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from events import AnalysisCompleted, AnalysisEvent, AnalysisRequested
from processors.pipeline import run_analysis
from tests.conftest import LOCAL_MODEL, MediaServer, make_clip
from tests.integration.test_stage_pipeline import config
from tests.provider_servers import ProviderServer, chat_completion
from tests.stage_samples import (
    BECKETT,
    assert_valid_results,
    decodes_as_jpeg,
    minimal_pdf,
    scanned_pdf,
    speech_wav,
)

ANSWER = {"summary": "A report on a garden club's tomatoes.", "topics": ["tomatoes", "garden"]}


async def analyse(
    url: str,
    cfg: Any,
    media_type: str,
    prompt: str = "What is this about?",
    request_config: dict[str, Any] | None = None,
    **options: bool,
) -> AnalysisCompleted:
    events: list[AnalysisEvent] = []

    async def emit(event: AnalysisEvent) -> None:
        events.append(event)

    request = AnalysisRequested(
        analysis_id=uuid4(),
        prompt=prompt,
        media_url=url,
        media_type=media_type,  # type: ignore[arg-type]
        options=options,
        config=request_config or {},
    )
    try:
        await run_analysis(request, emit, cfg)
    finally:
        await cfg.fetcher.aclose()
    done = events[-1]
    assert isinstance(done, AnalysisCompleted), done
    assert_valid_results(done.results)
    return done


@pytest.fixture
def llm() -> Iterator[ProviderServer]:
    server = ProviderServer("/v1/chat/completions", chat_completion(json.dumps(ANSWER)))
    yield server
    server.close()


@pytest.fixture
def pdf_url(media_server: MediaServer) -> str:
    name = f"report-{uuid4().hex[:8]}.pdf"
    minimal_pdf(media_server.directory / name)
    return media_server.url(name)


async def test_given_the_local_model_when_speech_is_analysed_then_it_answers_in_json(
    tmp_path: Path, media_server: MediaServer, local_llm_url: str
) -> None:
    name = f"beckett-{uuid4().hex[:8]}.wav"
    speech_wav(media_server.directory / name, BECKETT)
    cfg = config(
        tmp_path,
        llm_base_url=local_llm_url,
        llm_model=LOCAL_MODEL,
        llm_context_tokens=4096,
        llm_max_tokens=200,
    )

    done = await analyse(
        media_server.url(name), cfg, "audio", "What does the speaker say?", transcribe_audio=True
    )

    answer = done.results["answer"]
    assert answer["method"] == "llm"
    assert answer["model"] == LOCAL_MODEL
    assert answer["structured"] is True, answer["summary"]
    assert answer["response_format"] in ("json_schema", "json_object")
    assert done.summary == answer["summary"]
    assert done.summary.strip()
    assert done.topics
    assert all(isinstance(t, str) and t.strip() for t in done.topics)
    assert answer["usage"]["prompt_tokens"] > 50
    assert answer["usage"]["completion_tokens"] > 0
    assert (answer["max_tokens"], answer["temperature"]) == (200, 0.2)
    assert "fail" in answer["extractive"]["summary"].lower()


async def test_given_the_local_model_and_words_beyond_its_context_then_parts_are_combined(
    tmp_path: Path, media_server: MediaServer, local_llm_url: str
) -> None:
    name = f"minutes-{uuid4().hex[:8]}.txt"
    paragraphs = [
        f"Item {n}. The club discussed the {topic} and agreed to review it next month."
        for n, topic in enumerate(["tomato beds", "water butts", "seed swap", "compost"] * 8)
    ]
    (media_server.directory / name).write_text("\n\n".join(paragraphs))
    cfg = config(
        tmp_path,
        llm_base_url=local_llm_url,
        llm_model=LOCAL_MODEL,
        llm_context_tokens=1024,
        llm_max_tokens=128,
        llm_timeout_seconds=120,
    )

    done = await analyse(media_server.url(name), cfg, "document", "What did the club discuss?")

    answer = done.results["answer"]
    assert answer["method"] == "llm", answer.get("llm_error")
    assert answer["chunks"] >= 2
    assert answer["calls"] == answer["chunks"] + 1
    assert answer["usage"]["prompt_tokens"] < answer["calls"] * 1024
    assert done.summary.strip()


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, {"error": {"message": "internal error", "type": "server_error"}}, "HTTP 500"),
        (200, b"<html>this is not json</html>", "unreadable"),
        (200, {"choices": []}, "no content"),
    ],
)
async def test_given_a_model_server_failing_then_the_extractive_summary_stands_with_why(
    tmp_path: Path,
    pdf_url: str,
    llm: ProviderServer,
    status: int,
    body: Any,
    reason: str,
) -> None:
    llm.respond = lambda _: (status, body)

    done = await analyse(pdf_url, config(tmp_path, llm_base_url=f"{llm.base_url}/v1"), "document")

    answer = done.results["answer"]
    assert answer["method"] == "extractive"
    assert reason in answer["llm_error"]["message"]
    assert answer["llm_error"]["model"] == "gpt-4o-mini"
    assert "Tomatoes grew well this summer." in done.summary
    assert done.topics


async def test_a_server_refusing_json_schema_is_asked_for_a_json_object_and_remembered(
    tmp_path: Path, media_server: MediaServer, llm: ProviderServer
) -> None:
    def respond(body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("response_format", {}).get("type") == "json_schema":
            return 500, {"error": {"message": "response_format json_schema is not supported"}}
        return 200, chat_completion(json.dumps(ANSWER))

    llm.respond = respond
    urls = []
    for _ in range(2):
        name = f"report-{uuid4().hex[:8]}.pdf"
        minimal_pdf(media_server.directory / name)
        urls.append(media_server.url(name))

    answers = [
        (await analyse(url, config(tmp_path, llm_base_url=f"{llm.base_url}/v1"), "document"))
        for url in urls
    ]

    sent = [json.loads(r.body)["response_format"] for r in llm.requests]
    assert [f["type"] for f in sent] == ["json_schema", "json_object", "json_object"]
    assert sent[1]["schema"]["required"] == ["summary", "topics"]
    for done in answers:
        assert done.summary == ANSWER["summary"]
        assert done.results["answer"]["response_format"] == "json_object"


async def test_the_request_config_picks_model_and_limits_and_vision_models_get_pictures(
    tmp_path: Path, media_server: MediaServer, llm: ProviderServer
) -> None:
    name = f"clip-{uuid4().hex[:8]}.mp4"
    make_clip(media_server.directory / name, 3.0)
    cfg = config(
        tmp_path, llm_base_url=f"{llm.base_url}/v1", llm_vision=True, llm_vision_max_images=3
    )

    done = await analyse(
        media_server.url(name),
        cfg,
        "video",
        request_config={"model": "vision-model", "max_tokens": 300, "temperature": 0.7},
        extract_frames=True,
        generate_contact_sheet=True,
    )

    (chat,) = llm.requests
    sent = json.loads(chat.body)
    assert (sent["model"], sent["max_tokens"], sent["temperature"]) == ("vision-model", 300, 0.7)
    text, *pictures = sent["messages"][-1]["content"]
    assert text["type"] == "text"
    assert "What is this about?" in text["text"]
    assert len(pictures) == 3  # the contact sheet, then frames, up to the limit
    for part in pictures:
        assert part["type"] == "image_url"
        url = part["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        assert base64.b64decode(url.split(",", 1)[1])[:3] == b"\xff\xd8\xff"
    first, second = (base64.b64decode(p["image_url"]["url"].split(",", 1)[1]) for p in pictures[:2])
    assert decodes_as_jpeg(first, tmp_path / "sheet.jpg")["width"] > 2 * 320  # tiled
    assert decodes_as_jpeg(second, tmp_path / "frame.jpg")["width"] == 160  # a frame
    answer = done.results["answer"]
    assert (answer["model"], answer["max_tokens"], answer["temperature"]) == (
        "vision-model",
        300,
        0.7,
    )
    assert answer["images"] == 3


async def test_given_a_scanned_pdf_then_ocr_reads_its_page_and_the_summary_quotes_it(
    tmp_path: Path, media_server: MediaServer
) -> None:
    name = f"scan-{uuid4().hex[:8]}.pdf"
    scanned_pdf(media_server.directory / name, "Invoice total 42 euros")

    done = await analyse(media_server.url(name), config(tmp_path), "document")

    assert done.results["document"]["pages_without_text"] == [1]
    ocr = done.results["ocr"]
    (item,) = ocr["items"]
    assert item["source"] == "page"
    assert item["page"] == 1
    assert "Invoice total 42 euros" in item["text"]
    assert item["confidence"] > 0.8
    assert "Invoice total 42 euros" in done.summary
    assert done.results["answer"]["method"] == "extractive"
