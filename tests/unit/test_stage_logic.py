"""Pure logic of the stages: content sniffing, ffmpeg log parsing, frame
timing, LLM answer parsing and artifact naming."""

from __future__ import annotations

from uuid import uuid4

import pytest

from infra.artifacts import content_type_for, download_path, is_safe_name
from processors.llm import parse_answer
from processors.sniff import document_kind, looks_like_text, media_type_from_probe
from processors.stages.audio import parse_loudness, parse_silences
from processors.stages.frames import label, timestamps

LOUDNORM_LOG = """
[Parsed_loudnorm_1 @ 0x55d0c8]
{
	"input_i" : "-19.96",
	"input_tp" : "-1.07",
	"input_lra" : "0.70",
	"input_thresh" : "-30.43",
	"output_i" : "-24.03",
	"target_offset" : "0.03"
}
"""


@pytest.mark.parametrize(
    ("head", "content_type", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", None, "pdf"),
        (b"  <!DOCTYPE html><html><body>hi", None, "html"),
        (b"<p>fragment</p>", "text/html; charset=utf-8", "html"),
        (b"Plain notes\nwith lines\n", "application/octet-stream", "text"),
        (b"caf\xc3\xa9 ends mid-char \xc3", None, "text"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4", None),
        (b"ID3\x04\x00\x00\x00\x00", None, None),
        (b"", "text/plain", None),
    ],
)
def test_document_kind_is_told_from_magic_bytes_then_text_then_content_type(
    head: bytes, content_type: str | None, kind: str | None
) -> None:
    assert document_kind(head, content_type) == kind


def test_binary_with_control_characters_is_not_text() -> None:
    assert not looks_like_text(b"abc\x01def")
    assert not looks_like_text(b"\xff\xfe\x00a")


@pytest.mark.parametrize(
    ("probe", "media_type"),
    [
        ({"format": "mov,mp4,m4a,3gp,3g2,mj2", "duration": 3.0,
          "streams": [{"type": "video", "codec": "h264"}, {"type": "audio"}]}, "video"),
        ({"format": "mp3", "duration": 5.0, "streams": [{"type": "audio", "codec": "mp3"}]}, "audio"),
        ({"format": "png_pipe", "duration": None, "streams": [{"type": "video", "codec": "png"}]}, "image"),
        ({"format": "image2", "duration": 0.04, "streams": [{"type": "video", "codec": "mjpeg"}]}, "image"),
        ({"format": "gif", "duration": 2.0, "streams": [{"type": "video", "codec": "gif"}]}, "image"),
    ],
)  # fmt: skip
def test_unknown_media_type_is_resolved_from_the_probe(probe: dict, media_type: str) -> None:  # type: ignore[type-arg]
    assert media_type_from_probe(probe) == media_type


def test_loudness_figures_are_read_from_loudnorms_json() -> None:
    assert parse_loudness(LOUDNORM_LOG) == {
        "integrated_loudness_lufs": -19.96,
        "true_peak_dbtp": -1.07,
        "loudness_range_lu": 0.7,
        "threshold_lufs": -30.43,
    }


def test_digital_silence_has_no_loudness_figures() -> None:
    log = LOUDNORM_LOG.replace('"-19.96"', '"-inf"').replace('"-1.07"', '"-inf"')
    figures = parse_loudness(log)
    assert figures["integrated_loudness_lufs"] is None
    assert figures["true_peak_dbtp"] is None


def test_silences_pair_starts_with_ends_and_run_to_the_end_when_open() -> None:
    log = (
        "[silencedetect @ 0x1] silence_start: -0.01\n"
        "[silencedetect @ 0x1] silence_end: 0.8 | silence_duration: 0.81\n"
        "size=N/A time=00:00:03.00\n"
        "[silencedetect @ 0x1] silence_start: 2.5\n"
    )
    assert parse_silences(log, 4.0) == [
        {"start": 0.0, "end": 0.8, "duration": 0.8},
        {"start": 2.5, "end": 4.0, "duration": 1.5},
    ]


def test_frames_are_taken_in_the_middle_of_equal_slices() -> None:
    assert timestamps(10.0, 4) == [1.25, 3.75, 6.25, 8.75]
    assert timestamps(3.0, 1) == [1.5]
    assert label(3725.5) == "01:02:05.500"


@pytest.mark.parametrize(
    ("content", "summary", "topics", "structured"),
    [
        (
            '{"summary": "A cat.", "topics": ["cats", " ", "pets"]}',
            "A cat.",
            ["cats", "pets"],
            True,
        ),
        ('```json\n{"summary": "Fenced.", "topics": []}\n```', "Fenced.", [], True),
        ("Just prose, no JSON.", "Just prose, no JSON.", [], False),
        ('{"answer": "wrong shape"}', '{"answer": "wrong shape"}', [], False),
    ],
)
def test_llm_answers_are_json_when_given_and_prose_otherwise(
    content: str, summary: str, topics: list[str], structured: bool
) -> None:
    answer = parse_answer(content)
    assert (answer.summary, answer.topics, answer.structured) == (summary, topics, structured)


@pytest.mark.parametrize(
    "name", ["../x.jpg", "a/b.jpg", ".hidden", "..", "", "frame-01.jpg/..", "a\\b.jpg", "x" * 80]
)
def test_artifact_names_that_could_leave_their_directory_are_refused(name: str) -> None:
    assert not is_safe_name(name)


def test_artifact_names_we_produce_are_safe_and_typed() -> None:
    for name in ("frame-01.jpg", "contact-sheet.jpg", "thumbnail.jpg"):
        assert is_safe_name(name)
        assert content_type_for(name) == "image/jpeg"
    analysis_id = uuid4()
    assert download_path(analysis_id, "thumbnail.jpg") == (
        f"/api/media/{analysis_id}/artifacts/thumbnail.jpg"
    )
