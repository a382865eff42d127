"""The published contract for subscribers: a JSON Schema per event type and an
AsyncAPI 3.0 document of the events topic, both generated from the event models.

``python -m events.contract DIR`` writes them (``docs/events/`` in the repo);
a test regenerates them and fails when the code and the files drift apart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from events.envelope import SPEC_VERSION
from events.event_types import (
    EVENT_CLASSES,
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
)
from events.topics import DEAD_LETTER_TOPIC, EVENTS_TOPIC

TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
"""The W3C Trace Context ``traceparent`` (version-trace id-parent id-flags)."""

_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes, Kafka protocol binding, binary mode.",
    "required": [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_subject",
        "ce_time",
        "ce_schemaversion",
        "ce_correlationid",
        "content-type",
    ],
    "properties": {
        "ce_specversion": {"const": SPEC_VERSION},
        "ce_id": {"type": "string", "description": "Unique per event; de-duplicate on it."},
        "ce_source": {"type": "string", "description": "URI-reference of the producer."},
        "ce_type": {"type": "string", "description": "The event type."},
        "ce_subject": {"type": "string", "format": "uuid", "description": "The analysis id."},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_schemaversion": {"type": "string", "description": "Version of the data schema."},
        "ce_correlationid": {"type": "string", "description": "Shared by one request's events."},
        "ce_causationid": {"type": "string", "description": "The event that caused this one."},
        "ce_tenantid": {
            "type": "string",
            "description": "The tenant whose request started the chain (with access control on).",
        },
        "ce_traceparent": {
            "type": "string",
            "pattern": TRACEPARENT_PATTERN,
            "description": "CloudEvents distributed-tracing extension: the W3C traceparent "
            "of the operation that produced the event (the POST that recorded a request, the "
            "processor run that recorded its progress). Present only when the producer traces "
            "(OTEL_EXPORTER_OTLP_ENDPOINT set); continue the trace from it.",
        },
        "ce_tracestate": {
            "type": "string",
            "description": "CloudEvents distributed-tracing extension: the W3C tracestate "
            "that goes with ce_traceparent, when the trace has vendor state.",
        },
        "content-type": {"const": "application/json"},
    },
}


def schema_name(cls: type[AnalysisEvent]) -> str:
    """File name of a type's schema, e.g. ``analysis.requested.v1.json``."""
    short = cls.TYPE.removeprefix("media-analysis.")
    return f"{short}.v{cls.VERSION}.json"


def event_schema(cls: type[AnalysisEvent]) -> dict[str, Any]:
    """JSON Schema of the ``data`` (the record value) of one event type."""
    schema = cls.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_name(cls),
        **schema,
        "description": (cls.__doc__ or "").strip(),
        "x-cloudevents-type": cls.TYPE,
        "x-schema-version": cls.VERSION,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    return {schema_name(cls): event_schema(cls) for cls in EVENT_CLASSES.values()}


_SENT_BY = {
    "sendCommands": (
        "The command API records each accepted request and deletion.",
        (AnalysisRequested, AnalysisDeleted),
    ),
    "sendProcessing": (
        "The processors record each analysis's progress and its one outcome.",
        (AnalysisStarted, AnalysisProgressed, AnalysisCompleted, AnalysisFailed),
    ),
}


def _sent(summary: str, classes: tuple[type[AnalysisEvent], ...]) -> dict[str, Any]:
    return {
        "action": "send",
        "summary": summary,
        "channel": {"$ref": "#/channels/events"},
        "messages": [{"$ref": f"#/channels/events/messages/{c.__name__}"} for c in classes],
    }


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 description of the events topic and its dead-letter topic.

    Written here rather than by FastStream's generator: its messages carry no
    headers, and the contract is the CloudEvents ``ce_*`` headers of each type."""
    messages = {
        cls.__name__: {
            "name": cls.TYPE,
            "title": cls.__name__,
            "summary": (cls.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": _HEADERS
            | {"properties": _HEADERS["properties"] | {"ce_type": {"const": cls.TYPE}}},
            "payload": {"$ref": f"schemas/{schema_name(cls)}"},
            "bindings": {"kafka": {"key": {"type": "string", "format": "uuid"}}},
        }
        for cls in EVENT_CLASSES.values()
    }
    refs = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Media Analysis events",
            "version": "1",
            "description": (
                "Every step of every analysis, kept forever. Key = analysis id, so one "
                "analysis's events are totally ordered. CloudEvents 1.0, Kafka binding, "
                "binary mode: attributes in ce_* headers, JSON data in the value."
            ),
        },
        "channels": {
            "events": {"address": EVENTS_TOPIC, "messages": refs},
            "deadLetters": {
                "address": DEAD_LETTER_TOPIC,
                "description": "Records a consumer could not decode, with x-dlq-* headers.",
            },
        },
        "operations": {
            **{name: _sent(summary, classes) for name, (summary, classes) in _SENT_BY.items()},
            "receiveEvents": {
                "action": "receive",
                "summary": "Processors, the projector and other teams' subscribers read them.",
                "channel": {"$ref": "#/channels/events"},
            },
        },
        "components": {"messages": messages},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(directory: Path) -> list[Path]:
    """Write the AsyncAPI document and every schema under ``directory``."""
    (directory / "schemas").mkdir(parents=True, exist_ok=True)
    written = [directory / "asyncapi.json"]
    written[0].write_text(render(asyncapi_document()))
    for name, schema in all_schemas().items():
        path = directory / "schemas" / name
        path.write_text(render(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events")):
        print(path)
