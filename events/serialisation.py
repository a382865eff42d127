"""Envelope <-> Kafka record, in the CloudEvents Kafka binding's binary mode.

``encode`` gives the key, value and headers to produce; ``decode`` reads them
back, upcasting older schema versions, and raises an ``EventDecodeError`` for a
record that is not a readable event (the consumer sends it to the DLQ).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from events.envelope import SPEC_VERSION, Envelope
from events.errors import EventDecodeError, MissingAttribute, UnknownEventType
from events.event_types import EVENT_CLASSES, AnalysisEvent
from events.upcasting import upcast

CONTENT_TYPE = "application/json"

_FIELD_COUNTS = {cls: len(cls.model_fields) for cls in EVENT_CLASSES.values()}
"""Fields per event class (pydantic's ``model_fields`` costs a descriptor call each time)."""


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What to hand a Kafka producer: key, value and headers."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header_dict(self) -> dict[str, str]:
        return {k: v.decode() for k, v in self.headers}


def encode(envelope: Envelope) -> KafkaRecord:
    """Encode ``envelope`` as a binary-mode CloudEvents Kafka record."""
    headers: list[tuple[str, str]] = [
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", envelope.id),
        ("ce_source", envelope.source),
        ("ce_type", envelope.type),
        ("ce_subject", envelope.subject),
        ("ce_time", envelope.time.isoformat().replace("+00:00", "Z")),
        ("ce_schemaversion", str(envelope.schema_version)),
        ("ce_correlationid", envelope.correlation_id),
        ("content-type", CONTENT_TYPE),
    ]
    if envelope.causation_id is not None:
        headers.append(("ce_causationid", envelope.causation_id))
    if envelope.tenant_id is not None:
        headers.append(("ce_tenantid", envelope.tenant_id))
    if envelope.traceparent is not None:
        headers.append(("ce_traceparent", envelope.traceparent))
        if envelope.tracestate:
            headers.append(("ce_tracestate", envelope.tracestate))
    return KafkaRecord(
        key=envelope.subject.encode(),
        value=envelope.data.model_dump_json().encode(),
        headers=tuple((k, v.encode()) for k, v in headers),
    )


_SEQUENCES = (list, tuple)
"""What Kafka clients give as headers (a tuple of types: an ``X | Y`` union is
built anew on every call)."""


def _header_map(headers: Iterable[tuple[str, bytes]] | Mapping[str, Any]) -> dict[str, str]:
    # Kafka clients give a list or tuple; the (slower) ABC check only for the rest.
    items = (
        headers
        if isinstance(headers, _SEQUENCES)
        else list(headers.items() if isinstance(headers, Mapping) else headers)
    )
    try:
        return {key: raw.decode() for key, raw in items}  # the usual case: UTF-8 bytes
    except (AttributeError, UnicodeDecodeError):
        pass
    out: dict[str, str] = {}
    for key, raw in items:
        try:
            out[key] = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
        except UnicodeDecodeError as exc:
            raise EventDecodeError(f"header {key!r} is not UTF-8") from exc
    return out


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """A decoded record: its envelope, and its ``data`` as JSON text."""

    envelope: Envelope
    data_json: str
    """The event data as JSON at the current schema version, the same JSON value as
    ``envelope.data.model_dump_json()``. When the record value already is that (the
    current version, every field named, nothing coerced: what ``encode`` writes)
    it is the value itself, so a consumer that stores the JSON need not serialise
    it again; otherwise (an upcast event, a default filled in) the data is
    serialised."""


def decode(
    value: bytes | None, headers: Iterable[tuple[str, bytes]] | Mapping[str, Any]
) -> Envelope:
    """Decode a Kafka record into an envelope at the current schema version."""
    return _decode(value, headers)[0]


def decode_with_json(
    value: bytes | None, headers: Iterable[tuple[str, bytes]] | Mapping[str, Any]
) -> DecodedRecord:
    """``decode``, and the data's JSON text as well (see ``DecodedRecord``)."""
    envelope, as_is = _decode(value, headers)
    if as_is:
        assert value is not None
        return DecodedRecord(envelope, value.decode())
    return DecodedRecord(envelope, envelope.data.model_dump_json())


def _validate_as_is(cls: type[AnalysisEvent], value: bytes) -> AnalysisEvent | None:
    """The fast path for a record at the current version: pydantic parses and
    validates the JSON bytes in one go, strictly (so a value it accepts needed no
    coercion). None when that fails: the general path below then decides, and
    reports exactly what is wrong."""
    try:
        return cls.model_validate_json(value, strict=True)
    except ValidationError:
        return None


def _decode(
    value: bytes | None, headers: Iterable[tuple[str, bytes]] | Mapping[str, Any]
) -> tuple[Envelope, bool]:
    """The envelope, and whether ``value`` already is its data's complete JSON."""
    attrs = _header_map(headers)
    for name in ("ce_id", "ce_source", "ce_type", "ce_subject", "ce_time"):
        if not attrs.get(name):
            raise MissingAttribute(f"CloudEvents attribute {name} is missing")
    if attrs.get("ce_specversion") != SPEC_VERSION:
        raise EventDecodeError(
            f"unsupported CloudEvents specversion {attrs.get('ce_specversion')!r}"
        )
    event_type = attrs["ce_type"]
    cls = EVENT_CLASSES.get(event_type)
    if cls is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    try:
        version = int(attrs.get("ce_schemaversion", "1"))
    except ValueError as exc:
        raise EventDecodeError("ce_schemaversion is not an integer") from exc
    if value is None:
        raise EventDecodeError("record has no value")
    fast = _validate_as_is(cls, value) if version == cls.VERSION else None
    raw = None if fast is not None else _upcast_json(event_type, version, cls.VERSION, value)
    try:
        data = cls.model_validate(raw) if fast is None else fast
        time = datetime.fromisoformat(attrs["ce_time"])  # 3.11 reads a "Z" suffix
        envelope = Envelope(
            id=attrs["ce_id"],
            source=attrs["ce_source"],
            type=event_type,
            subject=attrs["ce_subject"],
            time=time,
            schema_version=cls.VERSION,
            correlation_id=attrs.get("ce_correlationid") or attrs["ce_id"],
            causation_id=attrs.get("ce_causationid"),
            tenant_id=attrs.get("ce_tenantid"),
            traceparent=attrs.get("ce_traceparent"),
            tracestate=attrs.get("ce_tracestate"),
            data=data,
        )
    except ValidationError as exc:
        raise EventDecodeError(f"{event_type} does not match its schema: {exc}") from exc
    except ValueError as exc:
        raise EventDecodeError(f"bad attribute: {exc}") from exc
    # Every field present: no default was filled in, so the value is the whole data.
    return envelope, fast is not None and len(fast.model_fields_set) == _FIELD_COUNTS[cls]


def _upcast_json(event_type: str, version: int, current: int, value: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventDecodeError(f"value is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise EventDecodeError("value is not a JSON object")
    return upcast(event_type, version, current, raw)
