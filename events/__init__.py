"""The event contract of Media Analysis: what other services and auditors read.

Everything here depends on pydantic only. Producers build an event, wrap it in
an ``Envelope`` and ``encode`` it; consumers ``decode`` records (older schema
versions are upcast on the way) and get the same envelope back.
"""

from events.dead_letter import dead_letter_headers
from events.envelope import Envelope, caused_by, new_envelope
from events.errors import (
    EventDecodeError,
    MediaAnalysisError,
    MissingAttribute,
    UnknownEventType,
    UnsupportedVersion,
)
from events.event_types import (
    DEFAULT_WEBHOOK_EVENTS,
    EVENT_CLASSES,
    MEDIA_TYPES,
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    MediaType,
    StageStatus,
    WebhookEvent,
)
from events.serialisation import DecodedRecord, KafkaRecord, decode, decode_with_json, encode
from events.topics import DEAD_LETTER_TOPIC, EVENTS_TOPIC

__all__ = [
    "DEAD_LETTER_TOPIC",
    "DEFAULT_WEBHOOK_EVENTS",
    "EVENTS_TOPIC",
    "EVENT_CLASSES",
    "MEDIA_TYPES",
    "AnalysisCompleted",
    "AnalysisDeleted",
    "AnalysisEvent",
    "AnalysisFailed",
    "AnalysisProgressed",
    "AnalysisRequested",
    "AnalysisStarted",
    "DecodedRecord",
    "Envelope",
    "EventDecodeError",
    "KafkaRecord",
    "MediaAnalysisError",
    "MediaType",
    "MissingAttribute",
    "StageStatus",
    "UnknownEventType",
    "UnsupportedVersion",
    "WebhookEvent",
    "caused_by",
    "dead_letter_headers",
    "decode",
    "decode_with_json",
    "encode",
    "new_envelope",
]
