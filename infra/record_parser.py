"""A FastStream parser that lets records with non-UTF-8 headers through.

FastStream's Kafka parser decodes every header as UTF-8 and raises on anything
else, before a handler runs: the projector would retry such a batch forever
and the processors would skip the record without dead-lettering it. This
parser builds the message from a copy whose headers are decoded leniently and
keeps the untouched record as ``raw_message``, so ``events.decode`` rejects it
and the consumer sends it to the dead-letter topic like any other poison.

``raw_records`` is the decoder that goes with it on a batch subscriber: the
handler gets the consumed records themselves, undecoded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any


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


async def raw_records(message: Any) -> Any:
    """The decoder of a batch subscriber: the consumed records themselves, undecoded.

    A garbage value must reach the handler (``events.decode`` judges it). And the
    handler needs no ``message: KafkaMessage`` parameter to reach them: FastStream
    resolves that context through a synchronous dependency, which FastDepends runs
    in a worker thread, a thread hand-off on every call."""
    records = message.raw_message
    assert isinstance(records, tuple)  # batch subscribers
    return records
