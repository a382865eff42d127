"""A one-line progress display for replays: events done, events/s, remaining.

On a terminal the line is redrawn in place a few times a second; elsewhere (a
log file, CI) a plain line is printed every few seconds instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._started = time.monotonic()
        self._drawn = 0.0

    def add(self, count: int) -> None:
        self.done += count
        self.total = max(self.total, self.done)
        now = time.monotonic()
        if now - self._drawn >= (0.2 if self._tty else 5.0):
            self._draw(now)

    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        left = max(0, self.total - self.done)
        eta = f", ~{left / rate:.0f}s left" if rate > 0 and left else ""
        share = 100.0 * self.done / self.total if self.total else 100.0
        return (
            f"{self.label}: {self.done}/{self.total} events ({share:.1f}%), "
            f"{rate:.0f} events/s, {left} remaining{eta}"
        )

    def _draw(self, now: float) -> None:
        self._drawn = now
        if self._tty:
            self._stream.write("\r\033[K" + self.line())
        else:
            self._stream.write(self.line() + "\n")
        self._stream.flush()

    def finish(self) -> None:
        self._draw(time.monotonic())
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()
