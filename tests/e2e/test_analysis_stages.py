"""The analysis stages end to end: real media made on the spot, served on
127.0.0.1, analysed by the processor service with real ffmpeg, the offline
faster-whisper and OCR, nothing configured (no LLM: the extractive answer),
results read back through the query API and the artifacts downloaded from it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import srt
import webvtt

from tests.conftest import MediaServer, wait_for_status
from tests.stage_samples import (
    BECKETT,
    SENTENCE,
    assert_valid_results,
    decodes_as_jpeg,
    minimal_pdf,
    png_image,
    share_of_words_heard,
    speech_video,
    speech_wav,
    speech_with_gap,
    text_image,
)

pytestmark = pytest.mark.stack

ALL_OPTIONS = {"extract_frames": True, "generate_contact_sheet": True, "transcribe_audio": True}


def analyse(
    client: httpx.Client,
    url: str,
    media_type: str,
    options: dict[str, bool] | None = None,
    config: dict[str, Any] | None = None,
    prompt: str = "What is said and shown?",
) -> dict[str, Any]:
    response = client.post(
        "/api/media/analyze",
        json={
            "prompt": prompt,
            "media_url": url,
            "media_type": media_type,
            "options": options or {},
            "config": config or {},
        },
    )
    assert response.status_code == 202, response.text
    done = wait_for_status(client, response.json()["analysis_id"], {"completed", "failed"}, 120)
    assert done["status"] == "completed", done["error_message"]
    assert done["progress"] == 100
    assert_valid_results(done["results"])
    summary = done["result_summary"]
    assert summary["summary"] == done["results"]["answer"]["summary"]
    assert summary["summary"].strip()
    assert summary["topics"]
    assert done["results"]["answer"]["method"] == "extractive"
    return done


def make_sample_clip(path: Path) -> Path:
    """The clip `make up` serves (scripts/stack.sh): a test pattern and a tone."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=6",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=6",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def statuses(results: dict[str, Any]) -> dict[str, str]:
    return {name: stage["status"] for name, stage in results["stages"].items()}


def test_given_a_video_with_speech_when_analysed_then_frames_sheet_loudness_and_words_come_back(
    client: httpx.Client, media_server: MediaServer, tmp_path: Path
) -> None:
    name = f"talk-{uuid4().hex[:8]}.mp4"
    speech_video(media_server.directory / name)

    done = analyse(client, media_server.url(name), "video", ALL_OPTIONS, {"frame_count": 4})
    results = done["results"]

    assert statuses(results) == {
        "fetch": "completed",
        "probe": "completed",
        "frames": "completed",
        "contact_sheet": "completed",
        "ocr": "completed",
        "audio": "completed",
        "transcript": "completed",
        "answer": "completed",
    }
    assert "llm_error" not in results["answer"]
    assert [item["timestamp"] for item in results["ocr"]["items"]] == [
        f["timestamp"] for f in results["frames"]["frames"]
    ]
    assert "Said: [0:0" in done["result_summary"]["summary"]
    assert "walk" in done["result_summary"]["summary"]
    assert {s["type"] for s in results["probe"]["streams"]} == {"video", "audio"}
    frames = results["frames"]["frames"]
    assert len(frames) == 4
    stamps = [f["timestamp"] for f in frames]
    assert stamps == sorted(stamps)
    assert stamps[0] > 0
    assert stamps[-1] < results["probe"]["duration"]
    for frame in frames:
        image = decodes_as_jpeg(client.get(frame["artifact"]["url"]).content, tmp_path / "f.jpg")
        assert (image["width"], image["height"]) == (320, 240)
    sheet = client.get(results["contact_sheet"]["artifact"]["url"])
    assert sheet.status_code == 200
    assert sheet.headers["content-type"] == "image/jpeg"
    tiled = decodes_as_jpeg(sheet.content, tmp_path / "sheet.jpg")
    assert tiled["width"] > 320 * 2  # two columns of 320-pixel tiles
    assert results["contact_sheet"]["timestamps"] == stamps

    loudness = results["audio"]["loudness"]
    assert -40 < loudness["integrated_loudness_lufs"] < 0
    assert loudness["true_peak_dbtp"] <= 3
    transcript = results["transcript"]
    assert transcript["engine"] == "faster-whisper"
    assert transcript["language"] == "en"
    assert share_of_words_heard(SENTENCE, transcript["text"]) >= 0.7, transcript["text"]
    assert transcript["words"][0]["start"] < transcript["words"][-1]["end"]
    names = {a["name"] for a in results["artifacts"]}
    assert names == {
        "frame-01.jpg",
        "frame-02.jpg",
        "frame-03.jpg",
        "frame-04.jpg",
        "contact-sheet.jpg",
        "silences.json",
        "transcript.json",
        "transcript.srt",
        "transcript.vtt",
    }
    assert_subtitles_download_and_parse(client, transcript, tmp_path)


def assert_subtitles_download_and_parse(
    client: httpx.Client, transcript: dict[str, Any], tmp_path: Path
) -> None:
    """The transcript's artifacts read back with subtitle libraries: the same
    segments as the results, at the same times."""
    files = transcript["files"]
    whole = client.get(files["json"]["url"])
    assert whole.status_code == 200
    assert whole.json()["segments"] == transcript["segments"]
    assert whole.json()["words"] == transcript["words"]

    subrip = client.get(files["srt"]["url"])
    assert subrip.status_code == 200
    assert subrip.headers["content-type"].startswith("application/x-subrip")
    cues = list(srt.parse(subrip.text))
    assert [c.content for c in cues] == [s["text"] for s in transcript["segments"]]
    assert cues[0].start.total_seconds() == pytest.approx(
        transcript["segments"][0]["start"], abs=0.001
    )

    vtt = client.get(files["vtt"]["url"])
    assert vtt.status_code == 200
    assert vtt.headers["content-type"].startswith("text/vtt")
    (tmp_path / "t.vtt").write_text(vtt.text, encoding="utf-8")
    captions = webvtt.read(str(tmp_path / "t.vtt")).captions
    assert [c.text for c in captions] == [s["text"] for s in transcript["segments"]]
    assert captions[-1].end_in_seconds == int(transcript["segments"][-1]["end"])


def test_given_audio_declared_unknown_when_analysed_then_it_is_audio_with_silence_and_words(
    client: httpx.Client, media_server: MediaServer
) -> None:
    name = f"gap-{uuid4().hex[:8]}.mp3"
    speech_with_gap(media_server.directory / name)

    results = analyse(client, media_server.url(name), "unknown", {"transcribe_audio": True})[
        "results"
    ]

    assert results["declared_media_type"] == "unknown"
    assert results["media_type"] == "audio"
    assert statuses(results) == {
        "fetch": "completed",
        "probe": "completed",
        "audio": "completed",
        "transcript": "completed",
        "answer": "completed",
    }
    gaps = [s for s in results["audio"]["silences"] if s["duration"] >= 1.5]
    assert len(gaps) == 1, results["audio"]["silences"]
    assert 1.0 < gaps[0]["start"] < 3.5
    heard = results["transcript"]["text"].lower()
    assert "morning" in heard
    assert "goodbye" in heard


def test_given_an_image_when_analysed_then_dimensions_and_a_thumbnail(
    client: httpx.Client, media_server: MediaServer, tmp_path: Path
) -> None:
    name = f"picture-{uuid4().hex[:8]}.png"
    png_image(media_server.directory / name, "640x360")

    results = analyse(client, media_server.url(name), "image")["results"]

    assert statuses(results)["image"] == "completed"
    image = results["image"]
    assert (image["width"], image["height"], image["format"]) == (640, 360, "png")
    thumbnail = client.get(image["thumbnail"]["url"])
    assert thumbnail.status_code == 200
    thumb = decodes_as_jpeg(thumbnail.content, tmp_path / "thumb.jpg")
    assert (thumb["width"], thumb["height"]) == (320, 180)


def test_given_a_pdf_declared_unknown_when_analysed_then_its_text_pages_and_words(
    client: httpx.Client, media_server: MediaServer
) -> None:
    name = f"report-{uuid4().hex[:8]}.pdf"
    minimal_pdf(media_server.directory / name)

    results = analyse(client, media_server.url(name), "unknown")["results"]

    assert results["media_type"] == "document"
    assert statuses(results) == {
        "fetch": "completed",
        "probe": "skipped",
        "document": "completed",
        "ocr": "skipped",
        "answer": "completed",
    }
    assert results["stages"]["ocr"]["reason"] == "every page has a text layer"
    document = results["document"]
    assert document["kind"] == "pdf"
    assert document["page_count"] == 2
    assert document["word_count"] == 11
    assert "Tomatoes grew well" in document["text"]
    summary = results["answer"]["summary"]
    assert summary.startswith("2-page PDF document of 11 words.")
    assert "Tomatoes grew well this summer." in summary
    assert "garden club" in [t.lower() for t in results["answer"]["topics"]]


def test_given_the_readme_sample_clip_and_nothing_configured_then_it_is_described(
    client: httpx.Client, media_server: MediaServer
) -> None:
    name = f"sample-{uuid4().hex[:8]}.mp4"
    make_sample_clip(media_server.directory / name)

    done = analyse(client, media_server.url(name), "video", prompt="What is in this clip?")

    summary = done["result_summary"]
    assert summary["summary"] == "6.0-second 320\u00d7240 H.264 video with mono AAC audio."
    assert summary["topics"] == ["video", "H.264", "AAC audio"]
    assert done["results"]["stages"]["ocr"]["status"] == "completed"


def test_given_a_speech_recording_then_its_words_are_the_summary_and_topics(
    client: httpx.Client, media_server: MediaServer
) -> None:
    name = f"beckett-{uuid4().hex[:8]}.wav"
    speech_wav(media_server.directory / name, BECKETT)

    done = analyse(client, media_server.url(name), "audio", {"transcribe_audio": True})

    summary = done["result_summary"]
    said = (summary["summary"] + " " + " ".join(summary["topics"])).lower()
    assert "fail" in said, summary
    assert "speech in English" in summary["summary"]
    passages = done["results"]["answer"]["passages"]
    assert all(p["source"] == "transcript" and p["start"] >= 0 for p in passages)


def test_given_an_image_of_text_then_ocr_reads_it_and_the_summary_quotes_it(
    client: httpx.Client, media_server: MediaServer
) -> None:
    name = f"sign-{uuid4().hex[:8]}.png"
    text_image(media_server.directory / name, "Garden party on Sunday")

    done = analyse(client, media_server.url(name), "image", prompt="What does the sign say?")

    results = done["results"]
    (item,) = results["ocr"]["items"]
    assert item["source"] == "image"
    assert "Garden party on Sunday" in item["text"]
    assert item["lines"][0]["confidence"] > 0.8
    (x0, y0), _, (x2, y2), _ = item["lines"][0]["box"]
    assert 0 <= x0 < x2 <= 800
    assert 0 <= y0 < y2 <= 200
    summary = done["result_summary"]
    assert summary["summary"] == "800\u00d7200 PNG image. Text: Garden party on Sunday."
    assert any("garden" in t.lower() or "sunday" in t.lower() for t in summary["topics"])


def test_given_an_html_page_when_analysed_then_its_visible_text_only(
    client: httpx.Client, media_server: MediaServer
) -> None:
    name = f"page-{uuid4().hex[:8]}.html"
    (media_server.directory / name).write_text(
        "<!DOCTYPE html><html><head><title>Club news</title><style>p{color:red}</style>"
        "<script>var hidden = 1;</script></head><body><h1>Spring fair</h1>"
        "<p>Bring cakes &amp; friends.</p></body></html>"
    )

    document = analyse(client, media_server.url(name), "document")["results"]["document"]

    assert document["kind"] == "html"
    assert document["title"] == "Club news"
    assert document["text"] == "Spring fair\nBring cakes & friends."
    assert document["word_count"] == 6
    assert document["page_count"] is None


def test_artifact_downloads_refuse_unknown_names_traversal_and_deleted_analyses(
    client: httpx.Client, media_server: MediaServer
) -> None:
    name = f"still-{uuid4().hex[:8]}.png"
    png_image(media_server.directory / name, "160x120")
    done = analyse(client, media_server.url(name), "image")
    base = f"/api/media/{done['analysis_id']}/artifacts"
    assert client.get(f"{base}/thumbnail.jpg").status_code == 200

    assert client.get(f"{base}/nothing-here.jpg").status_code == 404
    assert client.get(f"/api/media/{uuid4()}/artifacts/thumbnail.jpg").status_code == 404
    assert client.get(f"{base}/..%2F..%2Fetc%2Fpasswd").status_code in (400, 404)
    assert client.get(f"{base}/.hidden").status_code == 400
    assert client.get("/api/media/not-a-uuid/artifacts/thumbnail.jpg").status_code == 400

    assert client.delete(f"/api/media/{done['analysis_id']}").status_code == 204
    gone = client.get(f"{base}/thumbnail.jpg")
    assert gone.status_code == 410
    assert "deleted" in gone.json()["detail"]
