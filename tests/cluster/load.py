"""An open-loop POST load on 127.0.0.1, sent by the bench's generator
(benchmarks/loadgen.py: requests leave at a fixed rate whatever the answers'
latency, at a small CPU cost a request), in a thread of its own; every answer
is kept with its times, for the audit and the 503 windows."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

from benchmarks import loadgen


@dataclass(frozen=True, slots=True)
class Answer:
    sent_at: float  # time.perf_counter(), as the generator schedules
    answered_at: float
    status: int  # 0: no HTTP answer at all
    analysis_id: str | None


@dataclass
class OpenLoadResult:
    answers: list[Answer] = field(default_factory=list)
    unanswered: int = 0  # still open when the generator gave up on them

    @property
    def sent(self) -> int:
        return len(self.answers) + self.unanswered

    @property
    def accepted(self) -> list[str]:
        return [a.analysis_id for a in self.answers if a.status == 202 and a.analysis_id]

    @property
    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {0: self.unanswered} if self.unanswered else {}
        for answer in self.answers:
            counts[answer.status] = counts.get(answer.status, 0) + 1
        return dict(sorted(counts.items()))

    def refusal_windows(self) -> list[tuple[float, float]]:
        """(start, seconds) of each stretch in which every answer was a refusal: from
        the first refusal to the next 202, in the order the answers arrived."""
        windows: list[tuple[float, float]] = []
        began: float | None = None
        last = 0.0
        for answer in sorted(self.answers, key=lambda a: a.answered_at):
            last = answer.answered_at
            if answer.status != 202:
                began = answer.answered_at if began is None else began
            elif began is not None:
                windows.append((began, answer.answered_at - began))
                began = None
        if began is not None:
            windows.append((began, last - began))
        return windows

    def longest_refusal_window(self) -> float:
        return max((seconds for _, seconds in self.refusal_windows()), default=0.0)


def now() -> float:
    """The generator's clock (its ``scheduled`` and ``answered`` times)."""
    return time.perf_counter()


class OpenLoad:
    """``rate`` POSTs a second for ``seconds``: every ``real_every``-th submits the
    real clip, the others a URL the processors fail fast on (HTTP 404), so that
    every request still makes its events and rows while ffmpeg work stays within
    what two shared cores finish."""

    def __init__(
        self,
        base_url: str,
        real_url: str,
        missing_url: str,
        *,
        rate: float,
        seconds: float,
        real_every: int,
    ) -> None:
        self.result = OpenLoadResult()
        self._base_url = base_url
        self._bodies = [
            json.dumps(
                {"prompt": "What is this?", "media_url": url, "media_type": "video"}
            ).encode()
            for url in (real_url, missing_url)
        ]
        self._rate = rate
        self._seconds = seconds
        self._real_every = real_every
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> OpenLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=self._seconds + 60)

    def wait(self, timeout: float) -> OpenLoadResult:
        """Until every request is sent and answered (or timed out)."""
        self._thread.join(timeout=timeout)
        assert not self._thread.is_alive(), "the load did not finish in time"
        assert self._error is None, self._error
        return self.result

    def _request(self, i: int) -> loadgen.Request:
        body = self._bodies[0] if i % self._real_every == 0 else self._bodies[1]
        return ("POST", "/api/media/analyze", body)

    def _run(self) -> None:
        try:
            run = asyncio.run(
                loadgen.run(
                    self._base_url,
                    self._request,
                    rate=self._rate,
                    seconds=self._seconds,
                    max_connections=512,
                    keep_answers=True,
                    request_timeout=15,
                )
            )
        except BaseException as exc:  # handed to wait()
            self._error = exc
            return
        for scheduled, answered, status, body in run.answers:
            analysis_id = str(json.loads(body)["analysis_id"]) if status == 202 else None
            self.result.answers.append(Answer(scheduled, answered, status, analysis_id))
        self.result.unanswered = int(self._rate * self._seconds) - len(run.answers)
