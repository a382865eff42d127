"""A consumer that cannot go on stops its process, loudly, for its supervisor to restart.

A swallowed error in a consumer is a record skipped or a partition that silently
stops committing. What a consumer cannot handle (the dead-letter topic refused a
poison record, a background task of the consumer died) goes to ``Failures``; the
entry point waits on it next to its stop signal, stops everything and exits with
an error (the container's restart policy, or whoever started it, starts it again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from events import MediaAnalysisError

log = logging.getLogger(__name__)


class ConsumerFailed(MediaAnalysisError):
    """A consumer could not handle a record or keep its positions; its process stops."""


class Failures:
    """The first fatal failure of a process's consumers, for its entry point to act on."""

    def __init__(self) -> None:
        self._failed = asyncio.Event()
        self.first: ConsumerFailed | None = None

    def fail(self, error: ConsumerFailed) -> None:
        log.critical("%s: stopping the consumers", error, exc_info=error.__cause__)
        if self.first is None:
            self.first = error
        self._failed.set()

    def watch(self, task: asyncio.Task[None], what: str) -> None:
        """Fail when ``task`` (one that should run as long as its consumer) ends by an error."""

        def ended(done: asyncio.Task[None]) -> None:
            if done.cancelled():
                return
            if (exc := done.exception()) is not None:
                failure = ConsumerFailed(f"{what} died: {exc!r}")
                failure.__cause__ = exc
                self.fail(failure)

        task.add_done_callback(ended)

    @contextlib.asynccontextmanager
    async def guard(self, what: str) -> AsyncIterator[None]:
        """Wrap a handler's body: an error it did not turn into an outcome of its own
        stops the process. FastStream would log it and fetch on, past the record."""
        try:
            yield
        except ConsumerFailed as exc:
            self.fail(exc)
            raise
        except Exception as exc:
            failure = ConsumerFailed(f"{what}: {exc!r}")
            failure.__cause__ = exc
            self.fail(failure)
            raise failure from exc

    async def wait(self) -> ConsumerFailed:
        await self._failed.wait()
        assert self.first is not None
        return self.first
