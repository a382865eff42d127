"""The processor runtime's decisions, with fakes for Kafka and the ledger
(the real stack proves the same in tests/e2e/test_processing_runtime.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

from aiokafka import TopicPartition

from events import (
    EVENTS_TOPIC,
    AnalysisCompleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisRequested,
    AnalysisStarted,
    Envelope,
    new_envelope,
)
from processors.ledger import AnalysisHistory
from processors.retry import RetryPolicy
from processors.runtime import AnalysisRuntime


class FakePartitions:
    def __init__(self) -> None:
        self.pending: set[tuple[int, int]] = set()
        self.finished: list[tuple[int, int]] = []
        self.paused = False

    def begin(self, partition: int, offset: int) -> None:
        self.pending.add((partition, offset))

    def finish(self, partition: int, offset: int) -> None:
        self.pending.discard((partition, offset))
        self.finished.append((partition, offset))

    def forget(self, partitions: set[int]) -> None:
        self.pending = {p for p in self.pending if p[0] not in partitions}

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    async def end_offset(self, partition: int) -> int:
        return 0

    async def commit(self, only: set[int] | None = None) -> None:
        return None


class FakeLedger:
    def __init__(self, status: str | None = None, runs: int = 0) -> None:
        self.answer = AnalysisHistory(status=status, runs=runs, caught_up=True)

    async def history(self, analysis_id: Any, partition: int, end_offset: int) -> AnalysisHistory:
        return self.answer


Run = Callable[..., Awaitable[None]]


def make_runtime(
    run: Run,
    *,
    ledger: FakeLedger | None = None,
    concurrency: int = 2,
    deadline: float = 5,
    **scaling: float,
) -> tuple[AnalysisRuntime, FakePartitions, list[AnalysisEvent]]:
    published: list[AnalysisEvent] = []

    async def publish(cause: Envelope, event: AnalysisEvent) -> None:
        published.append(event)

    partitions = FakePartitions()
    runtime = AnalysisRuntime(
        run=run,
        pipeline_config=None,
        publish=publish,
        ledger=ledger or FakeLedger(),  # type: ignore[arg-type]
        partitions=partitions,  # type: ignore[arg-type]
        concurrency=concurrency,
        deadline_seconds=deadline,
        retry=RetryPolicy(max_attempts=3, base_seconds=0, max_seconds=0),
        **scaling,
    )
    runtime.partitions_assigned({TopicPartition(EVENTS_TOPIC, p) for p in range(3)})
    return runtime, partitions, published


def request() -> Envelope:
    data = AnalysisRequested(
        analysis_id=uuid4(), prompt="p", media_url="http://h/a.mp4", media_type="video"
    )
    return new_envelope(data, source="/tests")


async def settle(partitions: FakePartitions, count: int) -> None:
    async with asyncio.timeout(5):
        while len(partitions.finished) < count:
            await asyncio.sleep(0.01)


async def test_at_most_concurrency_analyses_run_and_fetching_pauses_meanwhile() -> None:
    release = asyncio.Event()
    running = 0
    peak = 0

    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        await emit(AnalysisCompleted(analysis_id=req.analysis_id, results={}))

    runtime, partitions, published = make_runtime(run, concurrency=2)
    for offset in range(4):
        runtime.submit(request(), 0, offset)
    await asyncio.sleep(0.1)
    assert partitions.paused
    assert peak == 2
    assert partitions.finished == []
    release.set()
    await settle(partitions, 4)
    assert peak == 2
    assert not partitions.paused
    assert len(published) == 4


async def test_a_retryable_failure_runs_again_and_only_the_success_is_recorded() -> None:
    attempts: list[int] = []

    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        attempts.append(attempt)
        await emit(AnalysisStarted(analysis_id=req.analysis_id, processor="p", attempt=attempt))
        if attempt < 3:
            await emit(
                AnalysisFailed(
                    analysis_id=req.analysis_id, error_code="x", error_message="503", retryable=True
                )
            )
            return
        await emit(AnalysisCompleted(analysis_id=req.analysis_id, results={}))

    runtime, partitions, published = make_runtime(run)
    runtime.submit(request(), 1, 7)
    await settle(partitions, 1)
    assert attempts == [1, 2, 3]
    assert [type(e).__name__ for e in published] == [
        "AnalysisStarted",
        "AnalysisStarted",
        "AnalysisStarted",
        "AnalysisCompleted",
    ]
    assert partitions.finished == [(1, 7)]


async def test_the_last_allowed_run_records_its_retryable_failure() -> None:
    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        await emit(
            AnalysisFailed(
                analysis_id=req.analysis_id, error_code="x", error_message="503", retryable=True
            )
        )

    runtime, partitions, published = make_runtime(run)
    runtime.submit(request(), 0, 0)
    await settle(partitions, 1)
    assert len(published) == 1
    assert isinstance(published[0], AnalysisFailed)
    assert published[0].error_code == "x"


async def test_a_redelivered_request_that_already_ended_is_not_run_again() -> None:
    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        raise AssertionError("must not run")

    runtime, partitions, published = make_runtime(run, ledger=FakeLedger("completed", runs=1))
    runtime.submit(request(), 0, 3)
    await settle(partitions, 1)
    assert published == []


async def test_a_request_whose_processor_vanished_too_often_fails_saying_why() -> None:
    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        raise AssertionError("must not run")

    runtime, partitions, published = make_runtime(run, ledger=FakeLedger("processing", runs=3))
    runtime.submit(request(), 0, 3)
    await settle(partitions, 1)
    assert len(published) == 1
    assert isinstance(published[0], AnalysisFailed)
    assert published[0].error_code == "attempts_exhausted"


async def test_a_redelivered_request_runs_with_the_next_attempt_number() -> None:
    seen: list[int] = []

    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        seen.append(attempt)
        await emit(AnalysisCompleted(analysis_id=req.analysis_id, results={}))

    runtime, partitions, _ = make_runtime(run, ledger=FakeLedger("processing", runs=1))
    runtime.submit(request(), 0, 3)
    await settle(partitions, 1)
    assert seen == [2]


async def test_deleting_cancels_the_run_and_nothing_is_recorded_afterwards() -> None:
    started = asyncio.Event()

    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        started.set()
        await asyncio.sleep(30)
        await emit(AnalysisCompleted(analysis_id=req.analysis_id, results={}))

    runtime, partitions, published = make_runtime(run)
    envelope = request()
    runtime.submit(envelope, 2, 9)
    await asyncio.wait_for(started.wait(), 5)
    await runtime.cancel(envelope.analysis_id)
    await settle(partitions, 1)
    assert published == []
    assert partitions.finished == [(2, 9)]
    runtime.submit(envelope, 2, 10)  # a late redelivery of a deleted analysis
    await settle(partitions, 2)
    assert published == []


async def test_a_run_past_its_deadline_fails_with_deadline_exceeded() -> None:
    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        await asyncio.sleep(30)

    runtime, partitions, published = make_runtime(run, deadline=0.2)
    runtime.submit(request(), 0, 0)
    await settle(partitions, 1)
    assert len(published) == 1
    assert isinstance(published[0], AnalysisFailed)
    assert published[0].error_code == "deadline_exceeded"


async def test_records_of_a_revoked_partition_are_left_to_its_next_owner() -> None:
    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        await asyncio.sleep(30)

    runtime, partitions, published = make_runtime(run)
    runtime.submit(request(), 1, 4)
    await asyncio.sleep(0.05)
    await runtime.partitions_revoked({TopicPartition(EVENTS_TOPIC, 1)})
    assert partitions.finished == []  # not done: redelivered to the next owner
    runtime.submit(request(), 1, 5)  # fetched before the revocation, handled after
    runtime.done(1, 6)
    await asyncio.sleep(0.05)
    assert partitions.pending == set()
    assert partitions.finished == []
    assert published == []


async def test_requests_deleted_before_their_run_began_free_their_slots_and_records() -> None:
    # A request and its deletion often arrive in one fetched batch: the deletion
    # then cancels a task that has not run a single step yet.
    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        await emit(AnalysisCompleted(analysis_id=req.analysis_id, results={}))

    runtime, partitions, published = make_runtime(run, concurrency=2)
    for offset in range(0, 10, 2):
        envelope = request()
        runtime.submit(envelope, 0, offset)
        await runtime.cancel(envelope.analysis_id)
        runtime.done(0, offset + 1)  # the deletion record itself
    assert partitions.pending == set()
    assert not partitions.paused
    assert published == []

    runtime.submit(request(), 0, 10)  # the next request still runs
    await settle(partitions, 11)
    assert [type(e).__name__ for e in published] == ["AnalysisCompleted"]


async def test_a_request_revoked_before_its_run_began_runs_when_it_comes_back() -> None:
    async def run(
        req: AnalysisRequested, emit: Any, config: Any, *, attempt: int, **_: Any
    ) -> None:
        await emit(AnalysisCompleted(analysis_id=req.analysis_id, results={}))

    runtime, partitions, published = make_runtime(run)
    envelope = request()
    runtime.submit(envelope, 1, 4)
    await runtime.partitions_revoked({TopicPartition(EVENTS_TOPIC, 1)})
    assert published == []
    runtime.partitions_assigned({TopicPartition(EVENTS_TOPIC, 1)})
    runtime.submit(envelope, 1, 4)  # delivered again after the partition came back
    await settle(partitions, 1)
    assert [type(e).__name__ for e in published] == ["AnalysisCompleted"]
    assert partitions.finished == [(1, 4)]


async def test_the_deadline_is_fitted_to_the_media_duration_the_run_reports() -> None:
    async def run(req: AnalysisRequested, emit: Any, config: Any, **kw: Any) -> None:
        kw["fit_deadline"](20.0)  # 20 s of media at 0.05 s a second: 1 s allowed
        await asyncio.sleep(0.5)
        await emit(AnalysisCompleted(analysis_id=req.analysis_id, results={}))

    async def unfitted(req: AnalysisRequested, emit: Any, config: Any, **kw: Any) -> None:
        await asyncio.sleep(0.5)

    for body, expected in ((run, AnalysisCompleted), (unfitted, AnalysisFailed)):
        runtime, partitions, published = make_runtime(
            body, deadline=0.2, deadline_per_media_second=0.05, deadline_max_seconds=60
        )
        runtime.submit(request(), 0, 1)
        await settle(partitions, 1)
        assert [type(e) for e in published] == [expected]
        if isinstance(outcome := published[0], AnalysisFailed):
            assert outcome.error_code == "deadline_exceeded"
            assert "0.2s" in outcome.error_message
