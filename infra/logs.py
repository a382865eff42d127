"""Log records: one JSON object a line (python-json-logger) or plain text for a
terminal (``LOG_FORMAT``), with the ids of the analysis being handled.

Every record carries ``time``, ``level``, ``service``, ``logger`` and
``message``; ``analysis_id`` and ``correlation_id`` once code handling an
analysis has bound them (:func:`bind_analysis`: the command handlers, the
processor's run, the projector's apply), and ``trace_id``/``span_id`` while an
OpenTelemetry span is recording. The ids live in context variables, so each
asyncio task (a request, an analysis) sees only its own. Every logger of the
process goes through the one handler: uvicorn's, FastStream's and aiokafka's too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal
from uuid import UUID

from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

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
    return JsonFormatter(
        "{message}{levelname}{name}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"service": service},
        timestamp="time",
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's coloured copy
    )


def configure_logging(level: str, log_format: LogFormat, service: str) -> None:
    """Send every record of the process to stderr in ``log_format``, from ``level`` up."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = json_formatter(service) if log_format == "json" else TextFormatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
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
