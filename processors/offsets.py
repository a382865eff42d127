"""Which offset of each partition may be committed while records finish out of order.

Analyses of one partition run concurrently and end in any order. The group may
only commit an offset once every record before it has its outcome recorded,
otherwise a crash would skip an unfinished one. ``OffsetTracker`` keeps, per
partition, the offsets still in flight and the highest one seen; the committable
position is the lowest one in flight, or one past the highest seen when none is.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Partition:
    in_flight: set[int] = field(default_factory=set)
    highest_seen: int = -1
    committed: int = -1


@dataclass(slots=True)
class OffsetTracker:
    """Per-partition bookkeeping of in-flight offsets (pure, no I/O)."""

    _partitions: dict[int, _Partition] = field(default_factory=dict)

    def begin(self, partition: int, offset: int) -> None:
        """A record's work started; its offset blocks commits until ``finish``."""
        state = self._partitions.setdefault(partition, _Partition())
        state.in_flight.add(offset)
        state.highest_seen = max(state.highest_seen, offset)

    def finish(self, partition: int, offset: int) -> None:
        """A record's outcome is recorded (or it needed no work)."""
        state = self._partitions.setdefault(partition, _Partition())
        state.in_flight.discard(offset)
        state.highest_seen = max(state.highest_seen, offset)

    def committable(self, partition: int) -> int | None:
        """The next offset to commit for ``partition``, or None when nothing is new."""
        state = self._partitions.get(partition)
        if state is None or state.highest_seen < 0:
            return None
        position = min(state.in_flight) if state.in_flight else state.highest_seen + 1
        return position if position > state.committed else None

    def committed(self, partition: int, position: int) -> None:
        """Remember that ``position`` was committed, so it is not sent again."""
        state = self._partitions.setdefault(partition, _Partition())
        state.committed = max(state.committed, position)

    def forget(self, partition: int) -> None:
        """The partition was revoked: its bookkeeping belongs to the next owner."""
        self._partitions.pop(partition, None)

    def in_flight(self, partition: int) -> int:
        state = self._partitions.get(partition)
        return len(state.in_flight) if state else 0

    @property
    def partitions(self) -> list[int]:
        return sorted(self._partitions)
