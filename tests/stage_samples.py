"""Media the stage tests analyse, made on the spot: speech from espeak-ng
muxed onto an ffmpeg test pattern, audio with a silent gap, a PNG, a picture
of text (ffmpeg drawtext), a handwritten PDF and a scanned one (a picture per
page, no text layer); and the results JSON Schema check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "We will walk to the park and read a good book in the morning"
BECKETT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PDF_LINES = ("Quarterly report for the garden club", "Tomatoes grew well this summer")


def _run(*args: str) -> None:
    subprocess.run(args, check=True, timeout=60, capture_output=True)


def speech_wav(path: Path, sentence: str = SENTENCE) -> Path:
    _run("espeak-ng", "-s", "130", "-w", str(path), sentence)
    return path


def speech_video(path: Path, sentence: str = SENTENCE) -> Path:
    """A test pattern with the sentence spoken over it."""
    wav = speech_wav(path.with_suffix(".speech.wav"), sentence)
    _run(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
        "-i", str(wav), "-shortest",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
    )  # fmt: skip
    return path


def speech_with_gap(path: Path) -> Path:
    """Speech, two seconds of digital silence, speech again (MP3)."""
    first = speech_wav(path.with_suffix(".a.wav"), "Good morning to everyone")
    second = speech_wav(path.with_suffix(".b.wav"), "Thank you and goodbye")
    _run(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(first), "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono:d=2", "-i", str(second),
        "-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1[a]", "-map", "[a]",
        "-c:a", "libmp3lame", "-b:a", "64k", str(path),
    )  # fmt: skip
    return path


def png_image(path: Path, size: str = "640x360") -> Path:
    _run(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc=size={size}:rate=1", "-frames:v", "1", str(path),
    )  # fmt: skip
    return path


def text_image(path: Path, text: str, size: str = "800x200") -> Path:
    """Dark text on a white picture, rendered by ffmpeg's drawtext."""
    _run(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=c=white:s={size}",
        "-vf", f"drawtext=fontfile={FONT}:text='{text}':fontsize=44:fontcolor=black:x=30:y=(h-th)/2",
        "-frames:v", "1", str(path),
    )  # fmt: skip
    return path


def scanned_pdf(path: Path, text: str) -> Path:
    """A one-page PDF that is only a picture of ``text`` (as a scanner makes)."""
    from PIL import Image  # Pillow comes with rapidocr-onnxruntime

    with Image.open(text_image(path.with_suffix(".png"), text)) as picture:
        picture.convert("RGB").save(path, format="PDF", resolution=72, quality=95)
    return path


def minimal_pdf(path: Path, pages: tuple[str, ...] = PDF_LINES) -> Path:
    """A valid PDF with one line of Helvetica text per page, written by hand."""
    page_ids = [3 + 2 * i for i in range(len(pages))]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % i for i in page_ids)
        + b"] /Count %d >>" % len(pages),
    ]  # fmt: skip
    font_id = 3 + 2 * len(pages)
    for i, line in enumerate(pages):
        stream = b"BT /F1 18 Tf 72 720 Td (%s) Tj ET" % line.encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
            % (font_id, page_ids[i] + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


def results_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((ROOT / "processors" / "results.schema.json").read_text())
    return schema


def assert_valid_results(results: dict[str, Any]) -> None:
    """Fail with the JSON path of the first violation of results.schema.json."""
    jsonschema.Draft202012Validator(
        results_schema(), format_checker=jsonschema.FormatChecker()
    ).validate(results)


def share_of_words_heard(sentence: str, transcript: str) -> float:
    def words(text: str) -> list[str]:
        return ["".join(c for c in w.lower() if c.isalnum()) for w in text.split()]

    heard = set(words(transcript))
    spoken = words(sentence)
    return sum(w in heard for w in spoken) / len(spoken)


def decodes_as_jpeg(content: bytes, path: Path) -> dict[str, Any]:
    """ffprobe's view of ``content`` (written to ``path``) as an image."""
    assert content[:3] == b"\xff\xd8\xff", "not a JPEG (magic bytes)"
    path.write_bytes(content)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    stream: dict[str, Any] = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "mjpeg"
    return stream
