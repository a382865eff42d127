"""Partitions no other test writes.

Tests that fold records straight into the shared database (the projector's
store, without Kafka) give each record a partition and an offset; the store
skips records below the position it holds for that partition. Two tests that
drew the same partition at random (out of 90, or 1,000) could therefore see
each other's records skipped as applied. Each call here hands out partitions
no earlier call of the run handed out, far above the topic's real ones.
"""

from __future__ import annotations

import itertools

_FIRST = itertools.count(10_000, 1_000)


def own_partition() -> int:
    """One partition of the test's own."""
    return own_partitions(1)[0]


def own_partitions(count: int) -> range:
    """``count`` consecutive partitions of the test's own (at most 1,000)."""
    assert 0 < count <= 1_000
    first = next(_FIRST)
    return range(first, first + count)
