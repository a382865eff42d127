"""Hostile media through the real pipeline: each file ends in a `failed` analysis
that says why, no service process dies, and the processor's memory stays bounded.
Every file is served from 127.0.0.1; the playlist's target is a loopback server
that must see no request at all."""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import MediaServer, Service, wait_for_status


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, rows: int) -> bytes:
    """A grayscale PNG whose header says ``width``x``height``, with ``rows`` rows of
    zeros compressed in it: all of them make a decompression bomb (1000:1), a few
    make a forged header."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(packer.compress(row) for _ in range(rows)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def mp4_declaring_forever(clip: bytes) -> bytes:
    """The clip with its movie header (mvhd) claiming 2**32 - 16 ticks: 1,193 hours
    at the clip's 1 kHz timescale."""
    forged = bytearray(clip)
    at = forged.index(b"mvhd") + 4 + 4 + 4 + 4  # version/flags, created, modified
    timescale = struct.unpack(">I", forged[at : at + 4])[0]
    assert timescale == 1000, timescale
    forged[at + 4 : at + 8] = struct.pack(">I", 0xFFFFFFF0)
    return bytes(forged)


class _Canary(BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - shared by the server's threads on purpose

    def do_GET(self) -> None:
        _Canary.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"secret")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def canary() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _hostile_files(directory: Path, clip: bytes, canary: str) -> dict[str, tuple[str, str]]:
    """name -> (declared media type, what the failure must say)."""
    tag = uuid4().hex[:8]
    files: dict[str, tuple[bytes, str, str]] = {
        f"empty-{tag}.mp4": (b"", "video", "media_undecodable"),
        f"truncated-{tag}.mp4": (clip[: len(clip) // 3], "video", "media_undecodable"),
        f"text-{tag}.mp4": (b"plain words, not a movie\n" * 50, "video", "media_undecodable"),
        f"bomb-{tag}.png": (png_declaring(8000, 8000, 8000), "image", "MEDIA_MAX_PIXELS"),
        f"forged-{tag}.png": (png_declaring(12000, 12000, 4), "image", "MEDIA_MAX_PIXELS"),
        f"forged-past-ffmpeg-{tag}.png": (
            png_declaring(60000, 60000, 4),
            "image",
            "media_undecodable: the picture declares no usable size",
        ),
        f"endless-{tag}.mp4": (mp4_declaring_forever(clip), "video", "MEDIA_MAX_DURATION_SECONDS"),
        f"playlist-{tag}.mp4": (
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
                f"{canary}/stolen.ts\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
            ).encode(),
            "video",
            "media_undecodable",
        ),
        f"concat-{tag}.mp4": (
            f"ffconcat version 1.0\nfile '{canary}/other.mp4'\nfile '/etc/passwd'\n".encode(),
            "video",
            "media_undecodable",
        ),
    }
    out = {}
    for name, (content, media_type, reason) in files.items():
        (directory / name).write_bytes(content)
        out[name] = (media_type, reason)
    return out


def test_given_hostile_media_then_each_analysis_fails_with_its_reason_and_nothing_breaks(
    client: httpx.Client,
    media_server: MediaServer,
    services: dict[str, Service],
    canary: str,
) -> None:
    processor = services["processor"].process
    before = _peak_rss_mb(processor.pid)
    cases = _hostile_files(
        media_server.directory, (media_server.directory / "clip.mp4").read_bytes(), canary
    )
    submitted = {}
    for name, (media_type, _) in cases.items():
        response = client.post(
            "/api/media/analyze",
            json={
                "prompt": "hostile",
                "media_url": media_server.url(name),
                "media_type": media_type,
            },
        )
        assert response.status_code == 202, response.text
        submitted[name] = response.json()["analysis_id"]

    outcomes = {
        name: wait_for_status(client, aid, {"completed", "failed"}, timeout=120)
        for name, aid in submitted.items()
    }

    wrong = {
        name: (o["status"], o.get("error_message"))
        for name, o in outcomes.items()
        if o["status"] != "failed" or cases[name][1] not in (o.get("error_message") or "")
    }
    assert wrong == {}, wrong
    assert _Canary.hits == [], "a playlist made the processor connect to its target"
    for name, service in services.items():
        assert service.process.poll() is None, f"{name} died:\n{service.log_tail()}"
    grown = _peak_rss_mb(processor.pid) - before
    print(f"processor peak RSS {before:.0f} MiB before, grew {grown:.0f} MiB")
    assert grown < 150, f"the processor's peak RSS grew by {grown:.0f} MiB"
