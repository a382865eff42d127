"""The offline answer (description, extractive summary, keyphrases) and the
LLM answer's chunking, on stage outputs shaped as the stages write them."""

from __future__ import annotations

from typing import Any

import pytest

from processors.answering.describe import describe
from processors.answering.extractive import guess_language, sentences, summarise
from processors.answering.llm_answer import Limits, answer_question, estimate_tokens, pack
from processors.llm import Answer, Prompt, Usage, parse_answer

BECKETT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."


def video_probe(duration: float = 5.3) -> dict[str, Any]:
    return {
        "format": "mov,mp4,m4a,3gp,3g2,mj2",
        "duration": duration,
        "streams": [
            {"type": "video", "codec": "h264", "width": 1280, "height": 720},
            {"type": "audio", "codec": "aac", "channels": 2},
        ],
    }


def test_media_without_words_is_described_from_probe_and_audio() -> None:
    outputs = {
        "transcript": {"text": "", "language": None, "segments": []},
        "audio": {"silences": [{"start": 1.0, "end": 3.0, "duration": 2.0}], "silence_seconds": 2},
    }

    text, tags = describe("video", video_probe(), outputs)

    assert text == (
        "5.3-second 1280\u00d7720 H.264 video with stereo AAC audio, no speech, "
        "one 2-second silence"
    )
    assert tags == ["video", "H.264", "AAC audio", "no speech", "silence"]


def test_a_clip_without_words_still_gets_a_summary_and_topics_from_its_facts() -> None:
    answer = summarise("video", video_probe(), {}, "What is in this clip?", 600)

    assert answer["method"] == "extractive"
    assert answer["summary"] == "5.3-second 1280\u00d7720 H.264 video with stereo AAC audio."
    assert answer["topics"] == ["video", "H.264", "AAC audio"]
    assert answer["passages"] == []


def test_a_transcript_is_quoted_with_timestamps_and_its_keyphrases_are_topics() -> None:
    transcript = {
        "language": "en",
        "text": BECKETT,
        "segments": [
            {"start": 0.0, "end": 2.5, "text": "Ever tried. Ever failed. No matter."},
            {"start": 65.0, "end": 68.0, "text": "Try again. Fail again. Fail better."},
        ],
    }
    probe = {"duration": 70.0, "streams": [{"type": "audio", "codec": "mp3", "channels": 1}]}

    answer = summarise("audio", probe, {"transcript": transcript}, "What is said?", 600)

    assert "[0:00] Ever tried. Ever failed. No matter. [1:05] Try again." in answer["summary"]
    assert answer["summary"].startswith("1.2-minute mono MP3 audio, speech in English (12 words).")
    assert any("fail" in topic.lower() for topic in answer["topics"])
    assert answer["language"] == "en"
    assert answer["passages"][0] == {"source": "transcript", "start": 0.0, "text": "Ever tried."}


def test_long_text_is_cut_to_the_sentences_that_bear_on_the_prompt() -> None:
    filler = [
        f"The committee met on day {n} and discussed the agenda at length." for n in range(40)
    ]
    key = "The tomato harvest doubled because of the new greenhouse."
    text = "\n".join([*filler[:20], key, *filler[20:]])
    document = {"kind": "text", "page_count": None, "word_count": len(text.split()), "text": text}

    answer = summarise("document", None, {"document": document}, "How did the tomatoes do?", 300)

    assert key in answer["summary"]
    assert len(answer["summary"]) < 300 + 100  # the budget plus the description
    assert answer == summarise(
        "document", None, {"document": document}, "How did the tomatoes do?", 300
    )  # deterministic


def test_ocr_text_held_over_frames_is_quoted_once_with_its_time() -> None:
    ocr = {
        "items": [
            {"source": "frame", "timestamp": 1.0, "text": "SPRING SALE"},
            {"source": "frame", "timestamp": 3.0, "text": "SPRING SALE"},
        ]
    }

    answer = summarise("video", video_probe(), {"ocr": ocr}, "What is shown?", 600)

    assert answer["summary"].endswith("On screen: [0:01] SPRING SALE.")
    assert answer["passages"] == [{"source": "screen", "start": 1.0, "text": "SPRING SALE"}]


def test_the_language_of_text_is_guessed_from_stop_words() -> None:
    assert guess_language("Der Hund läuft über die Straße und die Katze schläft.") == "de"
    assert guess_language("Le chien court dans la rue et le chat dort sur le toit.") == "fr"
    assert guess_language("Hi") == "en"


def test_text_is_cut_into_sentences_at_line_ends_and_full_stops() -> None:
    assert sentences("Title\nOne. Two!  Three?\n\n  ") == ["Title", "One.", "Two!", "Three?"]


@pytest.mark.parametrize(
    ("content", "summary", "topics", "structured"),
    [
        ('Here you go: {"summary": "A cat.", "topics": ["cats"]} Hope it helps.', "A cat.",
         ["cats"], True),
        ('{"summary": "", "topics": []}', '{"summary": "", "topics": []}', [], False),
        ("Summary: a dog.", "Summary: a dog.", [], False),
    ],
)  # fmt: skip
def test_model_replies_are_parsed_leniently(
    content: str, summary: str, topics: list[str], structured: bool
) -> None:
    answer = parse_answer(content)
    assert (answer.summary, answer.topics, answer.structured) == (summary, topics, structured)


def test_words_are_packed_into_parts_within_the_budget() -> None:
    lines = [f"line {n} " + "word " * 30 for n in range(50)] + ["x" * 2000]

    parts = pack(lines, 200)

    assert len(parts) > 5
    assert all(estimate_tokens(p) <= 200 + 1 for p in parts)
    assert "".join(parts).replace("\n", "") == "".join(lines)


class RecordingLLM:
    """A model that notes each prompt and answers with the part it was given."""

    model = "recording"

    def __init__(self) -> None:
        self.prompts: list[Prompt] = []

    async def answer(self, prompt: Prompt, *, max_tokens: int, temperature: float) -> Answer:
        self.prompts.append(prompt)
        return Answer(f"note {len(self.prompts)}", ["t"], True, "json_object", Usage(10, 2, 12))

    async def aclose(self) -> None:
        pass


async def test_words_longer_than_the_context_are_summarised_in_parts_then_combined() -> None:
    llm = RecordingLLM()
    words = [f"[0:{n:02d}] " + "spoken words here " * 20 for n in range(60)]
    limits = Limits(max_tokens=100, temperature=0.1, context_tokens=1024, max_chunks=12)

    outcome = await answer_question(llm, "Facts", words, "What is said?", ("data:x",), limits)

    assert outcome.chunks > 2
    assert outcome.calls == len(llm.prompts) == outcome.chunks + 1
    assert all(estimate_tokens(p.system + p.user) < 1024 - 100 for p in llm.prompts)
    final = llm.prompts[-1]
    assert "Part 1: note 1" in final.user
    assert final.images == ("data:x",)
    assert all(not p.images for p in llm.prompts[:-1])
    assert outcome.usage == Usage(10 * outcome.calls, 2 * outcome.calls, 12 * outcome.calls)
    assert outcome.answer.summary == f"note {outcome.calls}"
