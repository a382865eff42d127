"""Artifacts the analysis stages produce (frames, contact sheets, thumbnails,
transcripts and subtitles, silence lists).

A small port, ``ArtifactStore``, with a local-directory implementation
(``ARTIFACT_DIR``). The processors write through it; the query side reads
through it to serve downloads; deleting an analysis calls ``remove_all``.
Artifacts live under ``<root>/<analysis_id>/<name>``; names are checked so a
name can never leave its analysis's directory.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from events import MediaAnalysisError

if TYPE_CHECKING:
    from infra.settings import Settings

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\.[A-Za-z0-9]{1,8})?$")
"""Letters, digits, ``_`` and ``-``, one optional extension: no separators, no ``..``."""

CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
}


class UnsafeArtifactName(MediaAnalysisError):
    """An artifact name that could escape its directory or is not ours."""


def is_safe_name(name: str) -> bool:
    return bool(SAFE_NAME.fullmatch(name))


def content_type_for(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def download_path(analysis_id: UUID, name: str) -> str:
    """Where the query API serves the artifact."""
    return f"/api/media/{analysis_id}/artifacts/{name}"


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """What a result records about a stored artifact."""

    name: str
    content_type: str
    size: int
    url: str

    def as_dict(self) -> dict[str, str | int]:
        return {
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "url": self.url,
        }


class ArtifactStore(Protocol):
    """Where artifacts are kept, per analysis."""

    async def put(self, analysis_id: UUID, name: str, source: Path) -> ArtifactRef:
        """Store the file ``source`` as artifact ``name`` (replacing one of that name)."""
        ...

    async def read(self, analysis_id: UUID, name: str) -> bytes | None:
        """The artifact's bytes, or None when there is no such artifact."""
        ...

    async def remove_all(self, analysis_id: UUID) -> None:
        """Remove every artifact of the analysis; harmless when there are none."""
        ...


class LocalArtifactStore:
    """Artifacts as files under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, analysis_id: UUID, name: str) -> Path:
        if not isinstance(analysis_id, UUID) or not is_safe_name(name):
            raise UnsafeArtifactName(f"not an acceptable artifact name: {name!r}")
        return self.root / str(analysis_id) / name

    async def put(self, analysis_id: UUID, name: str, source: Path) -> ArtifactRef:
        target = self._path(analysis_id, name)
        # Copied in the event loop on purpose (artifacts are small): a worker
        # thread could still be writing after a deletion's remove_all.
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{name}.partial")
        shutil.copyfile(source, partial)
        partial.replace(target)  # readers never see half a file
        size = target.stat().st_size
        return ArtifactRef(name, content_type_for(name), size, download_path(analysis_id, name))

    async def read(self, analysis_id: UUID, name: str) -> bytes | None:
        path = self._path(analysis_id, name)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    async def remove_all(self, analysis_id: UUID) -> None:
        directory = self.root / str(UUID(str(analysis_id)))
        if not directory.exists():
            return  # one stat, not a worker thread: most failed analyses stored nothing
        await asyncio.to_thread(shutil.rmtree, directory, True)


def build_artifact_store(settings: Settings) -> ArtifactStore:
    """The store every process of one deployment shares (ARTIFACT_DIR)."""
    return LocalArtifactStore(settings.artifact_dir.resolve())
