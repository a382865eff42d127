"""Offsets are committed only behind records whose outcome is recorded."""

from __future__ import annotations

from processors.offsets import OffsetTracker


def test_given_nothing_seen_then_nothing_is_committable() -> None:
    assert OffsetTracker().committable(0) is None


def test_given_a_slow_record_then_later_finished_ones_are_not_committed_past_it() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.begin(0, offset)
    tracker.finish(0, 11)
    tracker.finish(0, 12)
    assert tracker.committable(0) == 10
    tracker.finish(0, 10)
    assert tracker.committable(0) == 13


def test_given_records_without_work_then_the_position_moves_past_them() -> None:
    tracker = OffsetTracker()
    tracker.finish(2, 5)
    tracker.finish(2, 6)
    assert tracker.committable(2) == 7


def test_given_a_committed_position_then_it_is_not_offered_again() -> None:
    tracker = OffsetTracker()
    tracker.finish(1, 3)
    tracker.committed(1, 4)
    assert tracker.committable(1) is None
    tracker.finish(1, 4)
    assert tracker.committable(1) == 5


def test_partitions_are_independent_and_forgotten_on_revocation() -> None:
    tracker = OffsetTracker()
    tracker.begin(0, 1)
    tracker.finish(1, 8)
    assert tracker.committable(0) == 1
    assert tracker.committable(1) == 9
    assert tracker.in_flight(0) == 1
    tracker.forget(0)
    assert tracker.partitions == [1]
    assert tracker.committable(0) is None
