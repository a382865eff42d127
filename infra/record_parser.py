"""FastStream's parser and decoder for the event log's batch subscribers.

``tolerant_parser`` lets records with non-UTF-8 headers through. FastStream's
Kafka parser decodes every header as UTF-8 and raises on anything else, before
a handler runs: the projector would retry such a batch forever and the
processors would skip the record without dead-lettering it. This parser builds
the message from a copy whose headers are decoded leniently and keeps the
untouched record as ``raw_message``, so ``events.decode`` rejects it and the
consumer sends it to the dead-letter topic like any other poison.

``decode_events`` is the decoder that goes with it: each consumed record becomes
a ``Consumed`` event at the current schema version, or ``Poison`` with the
reason it cannot be read, so handlers take typed events and decide each
record's outcome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from faststream.kafka import KafkaMessage

from events import Envelope, EventDecodeError, decode


class RawRecord(Protocol):
    """A record as the consumer fetched it (an ``aiokafka.ConsumerRecord``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


def _lenient(record: Any) -> Any:
    headers = [
        (key, value.decode("utf-8", "replace").encode() if isinstance(value, bytes) else value)
        for key, value in (record.headers or ())
    ]
    return dataclasses.replace(record, headers=headers)


async def tolerant_parser(record: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """Parse ``record`` (or a batch tuple) with FastStream's parser, leniently."""
    try:
        return await original(record)
    except UnicodeDecodeError:
        batch = isinstance(record, tuple)
        copy = tuple(_lenient(r) for r in record) if batch else _lenient(record)
        message = await original(copy)
        message.raw_message = record
        return message


@dataclass(frozen=True, slots=True)
class Consumed:
    """A consumed record, decoded: where it lies in the log and its event."""

    partition: int
    offset: int
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class Poison:
    """A consumed record that is no readable event, and why: it belongs in the DLQ."""

    record: RawRecord
    reason: str

    @property
    def partition(self) -> int:
        return self.record.partition

    @property
    def offset(self) -> int:
        return self.record.offset


def records_of(message: KafkaMessage) -> Sequence[RawRecord]:
    """The consumed records of a batch subscriber's message, as Kafka gave them.

    The handler needs no ``message: KafkaMessage`` parameter to reach them:
    FastStream resolves that context through a synchronous dependency, which
    FastDepends runs in a worker thread, a thread hand-off on every call."""
    records = message.raw_message
    assert isinstance(records, tuple | list)  # batch subscribers (a list in TestKafkaBroker)
    return records


def poison(record: RawRecord, error: EventDecodeError) -> Poison:
    return Poison(record, f"{error.reason}: {error}")


async def decode_events(message: KafkaMessage) -> list[Consumed | Poison]:
    """The decoder of a batch subscriber of the events topic: typed events, in log order."""
    out: list[Consumed | Poison] = []
    for record in records_of(message):
        try:
            envelope = decode(record.value, record.headers)
        except EventDecodeError as exc:
            out.append(poison(record, exc))
            continue
        out.append(Consumed(record.partition, record.offset, envelope))
    return out
