"""The projector's pipeline: the next batch is decoded while the previous one is
written, yet writes stay one at a time, in order, and a failed write makes the
consumer read everything uncommitted again instead of skipping it."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from aiokafka.structs import ConsumerRecord

from events import AnalysisProgressed, encode, new_envelope
from infra.record_parser import Poison
from projector.consumer import BatchHandler, DecodedBatch, to_records
from projector.pipeline import BatchPipeline
from projector.store import BatchOutcome, Record


def _batch(*records: Any) -> DecodedBatch:
    """A consumed batch as the subscriber's decoder hands it to the handler."""
    return DecodedBatch(*to_records(records))


def _kafka_record(partition: int, offset: int, value: bytes | None = None) -> Any:
    event = AnalysisProgressed(
        analysis_id=uuid4(), stage="probe", stage_status="completed", progress=10
    )
    record = encode(new_envelope(event, source="/test"))
    return ConsumerRecord(
        "media-analysis.events", partition, offset, 0, 0, record.key,
        record.value if value is None else value, None, 0, 0, list(record.headers),
    )  # fmt: skip


class Journal:
    """Fake writes that note when each starts and ends."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.fail: set[str] = set()

    async def write(self, name: str, seconds: float = 0.01) -> str:
        self.lines.append(f"start {name}")
        await asyncio.sleep(seconds)
        if name in self.fail:
            self.lines.append(f"fail {name}")
            raise RuntimeError(f"{name} failed")
        self.lines.append(f"end {name}")
        return name


async def test_given_batches_in_a_row_then_they_are_written_one_at_a_time_in_order() -> None:
    journal = Journal()
    async with BatchPipeline[str]() as pipeline:
        for name in ("a", "b", "c"):
            await pipeline.drain()
            pipeline.start(journal.write(name))
            journal.lines.append(f"decoding after {name}")  # overlaps the write just started
    assert journal.lines == [
        "decoding after a", "start a", "end a",
        "decoding after b", "start b", "end b",
        "decoding after c", "start c", "end c",
    ]  # fmt: skip


async def test_a_second_write_cannot_start_while_one_is_in_flight() -> None:
    journal = Journal()
    async with BatchPipeline[str]() as pipeline:
        pipeline.start(journal.write("a"))
        with pytest.raises(RuntimeError, match="in flight"):
            pipeline.start(journal.write("b"))
    assert journal.lines == ["start a", "end a"]


async def test_a_failed_write_is_raised_by_the_next_drain_and_only_once() -> None:
    journal = Journal()
    journal.fail.add("a")
    pipeline = BatchPipeline[str]()
    pipeline.start(journal.write("a"))
    with pytest.raises(RuntimeError, match="a failed"):
        await pipeline.drain()
    assert await pipeline.drain() is None
    pipeline.start(journal.write("b"))
    assert await pipeline.drain() == "b"


async def test_a_failing_block_abandons_the_write_in_flight() -> None:
    journal = Journal()

    async def consume() -> None:
        async with BatchPipeline[str]() as pipeline:
            pipeline.start(journal.write("slow", seconds=5))
            await asyncio.sleep(0)
            raise KeyError("the consumer broke")

    with pytest.raises(KeyError):
        await consume()
    assert journal.lines == ["start slow"]


class FakeProjector:
    """The handler's ports, recording what the handler did."""

    def __init__(self) -> None:
        self.written: list[list[tuple[int, int]]] = []
        self.failing = False
        self.rewinds = 0
        self.dead: list[tuple[int, str]] = []
        self.hints: list[dict[int, int]] = []
        self.handle = BatchHandler(
            BatchPipeline(), self.write, self.dead_letter, self.rewind, self.committed
        )

    async def write(self, records: list[Record]) -> BatchOutcome:
        await asyncio.sleep(0.01)
        if self.failing:
            raise RuntimeError("not a database error")
        self.written.append([(r.partition, r.offset) for r in records])
        positions = {r.partition: r.offset + 1 for r in records}
        return BatchOutcome(len(records), 0, positions)

    async def dead_letter(self, item: Poison) -> None:
        self.dead.append((item.offset, item.reason.split(":")[0]))

    async def rewind(self) -> None:
        self.rewinds += 1

    async def committed(self, outcome: BatchOutcome) -> None:
        self.hints.append(outcome.positions)


async def test_given_a_batch_then_it_is_written_after_the_previous_one_committed() -> None:
    fake = FakeProjector()
    await fake.handle(_batch(_kafka_record(0, 0), _kafka_record(0, 1)))
    assert fake.written == []  # in flight: the handler returned before it committed
    await fake.handle(_batch(_kafka_record(0, 2), _kafka_record(1, 0, value=b"not json")))
    assert fake.written == [[(0, 0), (0, 1)]]
    assert fake.hints == [{0: 2}]  # group offsets only behind committed batches
    assert fake.dead == [(0, "undecodable")]
    await fake.handle.pipeline.drain()
    assert fake.written == [[(0, 0), (0, 1)], [(0, 2), (1, 0)]]  # the poison advances too


async def test_given_a_write_failed_then_the_next_batch_rewinds_instead_of_skipping() -> None:
    fake = FakeProjector()
    fake.failing = True
    await fake.handle(_batch(_kafka_record(0, 0)))
    with pytest.raises(RuntimeError, match="not a database error"):
        await fake.handle(_batch(_kafka_record(0, 1)))
    assert fake.rewinds == 1
    assert fake.written == []
    assert not fake.handle.pipeline.busy  # the later batch was not written past the failed one
    fake.failing = False
    await fake.handle(_batch(_kafka_record(0, 0)))  # read again from the stored position
    await fake.handle.pipeline.drain()
    assert fake.written == [[(0, 0)]]
