"""The processors' runtime: many analyses at once, offsets committed only behind
recorded outcomes, redeliveries made harmless, retries, deadlines, cancellation.

The Kafka subscriber hands every AnalysisRequested record to ``submit`` and
returns at once, so the poll loop never waits for media work (aiokafka's
``max_poll_interval_ms`` is never at risk). Each analysis runs as its own task,
at most ``concurrency`` at a time; when that many are taken the consumer's
partitions are paused, and resumed when one ends. Offsets are committed per
partition only up to the lowest record whose outcome is not yet in the log
(``OffsetTracker``), so a processor killed at any moment loses nothing: the
group re-delivers what it had not finished to a live member.

Before a run the ledger says whether the analysis already ended (then the
record is skipped: a redelivery never adds a second terminal event) and how
many runs it had (``attempt`` = runs + 1; past ``max_attempts`` it fails with
``attempts_exhausted``). A retryable failure runs again after a backoff until
the attempts are used up; each run has a deadline, fitted to the media's
duration once the probe knows it (``TimeLimit``). AnalysisDeleted cancels the
analysis's task; nothing is published for it afterwards.

Longer than most modules because these rules share one state (slots, offsets,
tasks) and read best side by side.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import UUID

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from events import EVENTS_TOPIC, AnalysisEvent, AnalysisFailed, AnalysisRequested, Envelope
from infra import tracing
from infra.logs import analysis_bound, bind_analysis
from processors.ledger import AnalysisHistory, Ledger, LedgerUnavailable
from processors.limits import TimeLimit
from processors.metrics import IN_FLIGHT, SLOTS
from processors.partition_control import PartitionControl
from processors.retry import RetryPolicy

log = logging.getLogger(__name__)

Publish = Callable[[Envelope, AnalysisEvent], Awaitable[None]]
"""Record ``event`` in the log as caused by the request envelope."""
RunAnalysis = Callable[..., Awaitable[None]]
"""``run_analysis(request, emit, config, *, attempt, fit_deadline)`` from processors.pipeline."""
RemoveArtifacts = Callable[[UUID], Awaitable[None]]

REMEMBERED_DELETIONS = 10_000
CANCEL_WAIT_SECONDS = 5.0


@dataclass(eq=False, slots=True)
class _Job:
    envelope: Envelope
    partition: int
    offset: int
    task: asyncio.Task[None] | None = None
    deleted: bool = False
    abandoned: bool = False

    @property
    def analysis_id(self) -> UUID:
        return self.envelope.analysis_id


@dataclass(slots=True)
class AnalysisRuntime:
    run: RunAnalysis
    pipeline_config: Any
    publish: Publish
    ledger: Ledger
    partitions: PartitionControl
    concurrency: int
    deadline_seconds: float
    retry: RetryPolicy
    remove_artifacts: RemoveArtifacts | None = None
    deadline_per_media_second: float = 0.0
    deadline_max_seconds: float = 0.0
    _jobs: dict[UUID, _Job] = field(default_factory=dict)
    _deleted: OrderedDict[UUID, None] = field(default_factory=OrderedDict)
    _slots: asyncio.Semaphore | None = None
    _owned: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        SLOTS.set(self.concurrency)

    @property
    def busy(self) -> bool:
        """Some analysis is running or waiting for a slot."""
        return bool(self._jobs)

    # -- the subscriber's side -------------------------------------------------

    def submit(self, envelope: Envelope, partition: int, offset: int) -> None:
        """Start the analysis of a request record in the background."""
        analysis_id = envelope.analysis_id
        if partition not in self._owned:
            return  # fetched before a revocation: the partition's next owner has it
        if analysis_id in self._deleted or analysis_id in self._jobs:
            self.done(partition, offset)  # deleted already, or its run is under way
            return
        job = _Job(envelope, partition, offset)
        self.partitions.begin(partition, offset)
        self._jobs[analysis_id] = job
        job.task = asyncio.create_task(self._run_job(job), name=f"analysis-{analysis_id}")
        job.task.add_done_callback(partial(self._job_ended, job))
        self._pause_if_full()

    def hold(self, partition: int, offset: int) -> None:
        """A record's handling started outside ``submit`` (e.g. its dead-lettering)."""
        if partition in self._owned:
            self.partitions.begin(partition, offset)

    def done(self, partition: int, offset: int) -> None:
        """A record needs nothing more (not a request, or dealt with)."""
        if partition in self._owned:
            self.partitions.finish(partition, offset)

    async def cancel(self, analysis_id: UUID) -> None:
        """The analysis was deleted: stop its work and remove its artifacts."""
        self._deleted[analysis_id] = None
        while len(self._deleted) > REMEMBERED_DELETIONS:
            self._deleted.popitem(last=False)
        job = self._jobs.get(analysis_id)
        if job is not None and job.task is not None and not job.task.done():
            job.deleted = True  # checked by emit before anything is published
            job.task.cancel()
            await asyncio.wait({job.task}, timeout=CANCEL_WAIT_SECONDS)
            with analysis_bound(analysis_id, job.envelope.correlation_id):
                log.info("analysis %s cancelled: it was deleted", analysis_id)
        if self.remove_artifacts is not None:
            await self.remove_artifacts(analysis_id)

    # -- rebalances ------------------------------------------------------------

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Stop the work of partitions that move away, commit, and forget them.

        Their unfinished records are re-delivered to the next owner, which runs
        them again (attempt + 1); waiting for them here would stall the group.
        """
        partitions = {tp.partition for tp in revoked if tp.topic == EVENTS_TOPIC}
        self._owned -= partitions
        moving = [j for j in self._jobs.values() if j.partition in partitions]
        for job in moving:
            job.abandoned = True
            if job.task is not None:
                job.task.cancel()
        tasks = {j.task for j in moving if j.task is not None}
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_WAIT_SECONDS)
            log.info("stopped %s analyses of revoked partitions %s", len(tasks), partitions)
        await self.partitions.commit(partitions)
        self.partitions.forget(partitions)

    def partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._owned |= {tp.partition for tp in assigned if tp.topic == EVENTS_TOPIC}
        self._pause_if_full()

    # -- one analysis ----------------------------------------------------------

    async def _run_job(self, job: _Job) -> None:
        # Its own task: the ids tag this analysis's records only.
        bind_analysis(job.analysis_id, job.envelope.correlation_id)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        async with self._slots:
            # The run's span continues the request's trace; the events it emits carry it.
            with (
                IN_FLIGHT.track_inprogress(),
                tracing.span(
                    "process analysis",
                    context=tracing.event_context(job.envelope),
                    kind=tracing.SpanKind.CONSUMER,
                    attributes={
                        "media_analysis.analysis_id": str(job.analysis_id),
                        "messaging.destination.partition.id": str(job.partition),
                        "messaging.kafka.offset": job.offset,
                    },
                ) as span,
            ):
                try:
                    await self._analyse(job)
                except Exception as exc:
                    # A bug or an outage, not a media problem: record it as the outcome so
                    # the analysis does not stay processing; if even that cannot be
                    # published the record stays uncommitted and is delivered again.
                    log.exception("analysis %s broke", job.analysis_id)
                    tracing.failed(span, exc)
                    await self._emit(
                        job,
                        AnalysisFailed(
                            analysis_id=job.analysis_id,
                            error_code="internal_error",
                            error_message=f"{type(exc).__name__}: {exc}",
                            retryable=True,
                        ),
                    )

    def _job_ended(self, job: _Job, task: asyncio.Task[None]) -> None:
        """The job's bookkeeping, as a done callback rather than a ``finally``:
        a task cancelled before its first step (a request and its deletion, or
        its partition's revocation, in one fetched batch) never enters
        ``_run_job``, and must still leave ``_jobs`` and free its record."""
        if self._jobs.get(job.analysis_id) is job:
            del self._jobs[job.analysis_id]
        if task.cancelled():
            recorded = job.deleted  # the deletion is the outcome; a revoke is not
        elif (exc := task.exception()) is not None:
            recorded = False  # left uncommitted: delivered again to a live member
            log.error("analysis %s: its outcome could not be recorded: %r", job.analysis_id, exc)
        else:
            recorded = True
        if recorded and not job.abandoned:
            self.done(job.partition, job.offset)
        self._resume_if_free()

    async def _analyse(self, job: _Job) -> None:
        request = job.envelope.data
        assert isinstance(request, AnalysisRequested)
        history = await self._history(job)
        if history.terminal:
            log.info("analysis %s is already %s; not run again", job.analysis_id, history.status)
            return
        attempt = history.runs + 1
        log.info(
            "analysis %s (record %s/%s): run %s",
            job.analysis_id,
            job.partition,
            job.offset,
            attempt,
        )
        last_reason = "its processor stopped before recording an outcome"
        while self.retry.may_run(attempt):
            failure = await self._run_once(job, request, attempt)
            if failure is None:
                return
            last_reason = f"{failure.error_code}: {failure.error_message}"
            delay = self.retry.delay(attempt)
            log.info(
                "analysis %s run %s: %s; retry in %.1fs",
                job.analysis_id,
                attempt,
                last_reason,
                delay,
            )
            await asyncio.sleep(delay)
            attempt += 1
        await self._emit(
            job,
            AnalysisFailed(
                analysis_id=job.analysis_id,
                error_code="attempts_exhausted",
                error_message=f"gave up after {attempt - 1} runs; last: {last_reason}",
                retryable=True,
            ),
        )

    async def _history(self, job: _Job) -> AnalysisHistory:
        """The ledger's answer, waiting out Kafka or PostgreSQL outages (bounded)."""
        delay, waited = 0.2, 0.0
        while True:
            try:
                end = await self.partitions.end_offset(job.partition)
                log.debug(
                    "analysis %s: waiting for the projection of offset %s", job.analysis_id, end
                )
                return await self.ledger.history(job.analysis_id, job.partition, end)
            except (KafkaError, LedgerUnavailable) as exc:
                if waited >= self.deadline_seconds:
                    raise
                log.warning("analysis %s: %s; asking again in %.1fs", job.analysis_id, exc, delay)
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)

    async def _run_once(
        self, job: _Job, request: AnalysisRequested, attempt: int
    ) -> AnalysisFailed | None:
        """One run; returns its failure when it was retryable and may run again."""
        final = not self.retry.may_run(attempt + 1)
        held: AnalysisFailed | None = None

        async def emit(event: AnalysisEvent) -> None:
            nonlocal held
            if isinstance(event, AnalysisFailed) and event.retryable and not final:
                held = event  # not the outcome yet: the runtime runs it again
                return
            await self._emit(job, event)

        limit = TimeLimit(
            self.deadline_seconds, self.deadline_per_media_second, self.deadline_max_seconds
        )
        allowed = limit.base_seconds
        started = asyncio.get_running_loop().time()
        deadline = asyncio.timeout_at(started + allowed)

        def fit_deadline(duration: float | None) -> None:
            nonlocal allowed
            allowed = limit.for_duration(duration)
            deadline.reschedule(started + allowed)

        try:
            async with deadline:
                await self.run(
                    request, emit, self.pipeline_config, attempt=attempt, fit_deadline=fit_deadline
                )
        except TimeoutError:
            if not deadline.expired():
                raise
            await self._emit(
                job,
                AnalysisFailed(
                    analysis_id=job.analysis_id,
                    error_code="deadline_exceeded",
                    error_message=f"analysis took longer than {allowed:g}s",
                    retryable=True,
                ),
            )
            return None
        return held

    async def _emit(self, job: _Job, event: AnalysisEvent) -> None:
        if job.deleted or job.abandoned:
            raise asyncio.CancelledError  # nothing is recorded after a deletion
        await self.publish(job.envelope, event)

    def _pause_if_full(self) -> None:
        if len(self._jobs) >= self.concurrency:
            self.partitions.pause()

    def _resume_if_free(self) -> None:
        if len(self._jobs) < self.concurrency:
            self.partitions.resume()
