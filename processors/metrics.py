"""The processors' Prometheus metrics (served by infra.ops_server).

- ``media_analysis_analyses_finished_total{outcome, error_code}``: terminal
  events recorded (``completed``, or ``failed`` with its code).
- ``media_analysis_stage_duration_seconds{stage, status}``: each stage's run.
- ``media_analysis_analyses_in_flight`` / ``media_analysis_analysis_slots``:
  analyses holding a slot now, and the slots (``PROCESSOR_CONCURRENCY``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from events import AnalysisCompleted, AnalysisEvent, AnalysisFailed

FINISHED = Counter(
    "media_analysis_analyses_finished_total",
    "Analyses that ended, by outcome and failure code.",
    ["outcome", "error_code"],
)
STAGE_DURATION = Histogram(
    "media_analysis_stage_duration_seconds",
    "Time a stage of an analysis took, by stage and how it ended.",
    ["stage", "status"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
IN_FLIGHT = Gauge("media_analysis_analyses_in_flight", "Analyses holding a slot now.")
SLOTS = Gauge("media_analysis_analysis_slots", "Analyses a processor runs at once at most.")


def count_outcome(event: AnalysisEvent) -> None:
    """Count ``event`` if it ends its analysis (once it is recorded in the log)."""
    if isinstance(event, AnalysisCompleted):
        FINISHED.labels("completed", "").inc()
    elif isinstance(event, AnalysisFailed):
        FINISHED.labels("failed", event.error_code).inc()
