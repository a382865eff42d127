"""The garbage collector, tuned for a long-running service once it has started."""

from __future__ import annotations

import gc

YOUNG_COLLECTION_THRESHOLD = 20_000
"""Net new container objects between two young collections (Python's default: 700).

Under load a service's young generation holds whatever its requests and batches
have in flight, so at 700 each young collection traversed thousands of objects
that were still alive, and the collections that follow it traversed more. In
`make bench-mix` the API spent 3.1 of its 26.7 CPU seconds in the collector
(3,160 young, 286 middle and 27 full collections); at 20,000, 0.26 of 23.5
(BENCHMARKS.md). Objects freed by reference counting, nearly all of them, never
wait for a collection, so the memory held longer is only cyclic garbage."""


def tune_collector() -> None:
    """Call once start-up is done. Moves what start-up built (modules, pydantic
    and FastAPI schemas, SQLAlchemy metadata: ~135-200k objects) out of the
    collector's sight: they live as long as the process, yet every full
    collection traversed them (in the API ~100 ms in the middle of requests, in
    a replay about a quarter of its CPU). Then raises the young generation's
    threshold (``YOUNG_COLLECTION_THRESHOLD``)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
