"""The projector's Prometheus metrics (served by infra.ops_server).

- ``media_analysis_projector_batch_records``: records per applied batch.
- ``media_analysis_projector_apply_duration_seconds``: one batch's transaction.
- ``media_analysis_projector_events_applied_total``: events folded into the
  read model (duplicates and already applied ones not counted).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BATCH_RECORDS = Histogram(
    "media_analysis_projector_batch_records",
    "Records in a batch the projector applied.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
APPLY_DURATION = Histogram(
    "media_analysis_projector_apply_duration_seconds",
    "Time one batch's transaction took.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_APPLIED = Counter(
    "media_analysis_projector_events_applied_total", "Events folded into the read model."
)
