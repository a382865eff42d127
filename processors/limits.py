"""Limits that fit the media: time limits scaled by its declared duration, and
how heavy stage work is started (a lower CPU priority than the API, a memory
ceiling per child process)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """``max(base, min(cap, per_media_second * duration))``: a floor for short
    clips, growing with the media's duration, capped."""

    base_seconds: float
    per_media_second: float = 0.0
    max_seconds: float = 0.0

    def for_duration(self, duration: float | None) -> float:
        if not duration or duration <= 0 or self.per_media_second <= 0:
            return self.base_seconds
        scaled = self.per_media_second * duration
        if self.max_seconds > 0:
            scaled = min(scaled, self.max_seconds)
        return max(self.base_seconds, scaled)


@dataclass(frozen=True, slots=True)
class ChildLimits:
    """How a stage's child process runs: ``nice`` added to its CPU priority and
    ``memory_mb`` of address space (0: no limit)."""

    nice: int = 10
    memory_mb: int = 0

    def command(self, args: list[str]) -> list[str]:
        """``args`` run through ``nice`` and ``prlimit`` (util-linux), so the
        limits hold from the child's first instruction."""
        prefix = ["nice", "-n", str(self.nice)] if self.nice > 0 else []
        if self.memory_mb > 0:
            limit = self.memory_mb * 1024 * 1024
            prefix += ["prlimit", f"--as={limit}:{limit}", "--"]
        return [*prefix, *args]
