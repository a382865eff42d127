"""Log records: one JSON object a line (python-json-logger) or plain text for a
terminal (``LOG_FORMAT``), with the ids of the analysis being handled.

Every record carries ``time``, ``level``, ``service``, ``logger`` and
``message``; ``analysis_id`` and ``correlation_id`` once code handling an
analysis has bound them (:func:`bind_analysis`: the command handlers, the
processor's run, the projector's apply), and ``trace_id``/``span_id`` while an
OpenTelemetry span is recording. The ids live in context variables, so each
asyncio task (a request, an analysis) sees only its own. Every logger of the
process goes through the one handler: uvicorn's, FastStream's and aiokafka's too.

The event loop only makes each record and queues it (``QueueHandler``); a
writer thread formats and writes it (``QueueListener``): the access log line of
every request is on the API's hot path (docs/performance-notes.md).
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from logging.handlers import QueueHandler, QueueListener
from typing import Literal
from uuid import UUID

from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

LogFormat = Literal["json", "text"]

_analysis_id: ContextVar[str | None] = ContextVar("analysis_id", default=None)
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_FIELDS = ("analysis_id", "correlation_id", "trace_id", "span_id")

# Libraries that install handlers of their own (or are chatty at INFO): their
# records go through ours instead, and aiokafka's from WARNING up. uvicorn's
# access logger is left as uvicorn sets it (off: http_edge.metrics logs requests).
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "faststream")
_QUIETER = {"aiokafka": logging.WARNING}


def bind_analysis(analysis_id: UUID | str, correlation_id: str | None = None) -> None:
    """Tag the current context's records (until it ends) with these ids."""
    _analysis_id.set(str(analysis_id))
    if correlation_id is not None:
        _correlation_id.set(correlation_id)


@contextmanager
def analysis_bound(analysis_id: UUID | str, correlation_id: str | None = None) -> Iterator[None]:
    """Tag the records logged inside the block with these ids."""
    analysis = _analysis_id.set(str(analysis_id))
    correlation = _correlation_id.set(correlation_id)
    try:
        yield
    finally:
        _correlation_id.reset(correlation)
        _analysis_id.reset(analysis)


class ContextFilter(logging.Filter):
    """Copies the bound ids and the recording span's ids onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (analysis_id := _analysis_id.get()) is not None:
            record.analysis_id = analysis_id
        if (correlation_id := _correlation_id.get()) is not None:
            record.correlation_id = correlation_id
        span = trace.get_current_span()
        if span.is_recording():
            context = span.get_span_context()
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


class TextFormatter(logging.Formatter):
    """The classic one-line format, with the bound ids appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{k}={v}" for k in CONTEXT_FIELDS if (v := getattr(record, k, None))]
        return f"{line} [{' '.join(ids)}]" if ids else line


def json_formatter(service: str) -> logging.Formatter:
    # orjson: python-json-logger's faster encoder, for the access log's volume.
    return OrjsonFormatter(
        "{message}{levelname}{name}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"service": service},
        timestamp="time",
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's coloured copy
    )


class _Enqueue(QueueHandler):
    """Queues records for the writer thread as they are (the stock ``prepare``
    formats them first, in the caller's thread); only the message is merged with
    its arguments now, since those may change after the call."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg = record.getMessage()
        record.args = None
        return record


_writer: QueueListener | None = None


def _stop_writer() -> None:
    """Write what is queued and stop the writer thread (at exit, or on reconfiguring)."""
    global _writer
    writer, _writer = _writer, None
    if writer is not None:
        writer.stop()


atexit.register(_stop_writer)


def configure_logging(level: str, log_format: LogFormat, service: str) -> None:
    """Send every record of the process to stderr in ``log_format``, from ``level`` up."""
    global _writer
    _stop_writer()
    stream = logging.StreamHandler(sys.stderr)
    formatter = json_formatter(service) if log_format == "json" else TextFormatter(TEXT_FORMAT)
    stream.setFormatter(formatter)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    enqueue = _Enqueue(records)
    enqueue.addFilter(ContextFilter())  # in the caller's thread: its context variables
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(enqueue)
    root.setLevel(level)
    _writer = QueueListener(records, stream)
    _writer.start()
    route_library_loggers()
    for name, quieter in _QUIETER.items():
        logging.getLogger(name).setLevel(quieter)
    logging.captureWarnings(True)  # warnings become records, not bare stderr lines


def route_library_loggers() -> None:
    """Make the loggers that libraries give handlers of their own (FastStream does
    at import) hand their records to the root handler instead."""
    for name in _OWN_HANDLERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
