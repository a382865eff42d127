"""The garbage collector, tuned for a long-running service once it has started."""

from __future__ import annotations

import gc

YOUNG_COLLECTION_THRESHOLD = 20_000
"""Net new container objects between two young collections (Python's default: 700).

Under load the young generation holds whatever requests and batches have in
flight, so the default threshold makes each collection traverse thousands of
live objects. Objects freed by reference counting, nearly all of them, never
wait for a collection, so the memory held longer is only cyclic garbage."""


def tune_collector() -> None:
    """Call once start-up is done. Moves what start-up built (modules, pydantic
    and FastAPI schemas, SQLAlchemy metadata) out of the collector's sight, since
    it lives as long as the process, then raises the young generation's
    threshold (``YOUNG_COLLECTION_THRESHOLD``)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
