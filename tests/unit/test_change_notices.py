"""The projector's change notices (read_model.changes) and a stream's mailbox
(query_api.stream.Mailbox): notices stay under PostgreSQL's payload limit and
say everything they name; a mailbox holds only the latest state of each
analysis, never an older one, and asks for a resync when it is full."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

from query_api.stream import Mailbox, Snapshot, newer, parse_position
from read_model.changes import (
    MAX_NOTICES,
    NOTICE_MAX_BYTES,
    RESYNC_NOTICE,
    Change,
    changes_notices,
    read_changes_notice,
)

PROGRESSED = "media-analysis.analysis.progressed"


def changes(n: int) -> list[Change]:
    return [Change(uuid4(), uuid4() if i % 2 else None, PROGRESSED, i % 6, i) for i in range(n)]


def test_a_batch_of_changes_is_split_into_notices_under_the_limit_that_name_them_all() -> None:
    batch = changes(500)
    notices = changes_notices(batch)
    assert 1 < len(notices) <= MAX_NOTICES
    assert all(len(n.encode()) <= NOTICE_MAX_BYTES for n in notices)
    read = [c for n in notices for c in read_changes_notice(n) or []]
    assert read == batch


def test_more_changes_than_the_notices_can_carry_become_one_resync_notice() -> None:
    notices = changes_notices(changes(5000))
    assert notices == [RESYNC_NOTICE]
    assert read_changes_notice(notices[0]) is None


def test_an_unreadable_notice_asks_for_a_resync_rather_than_being_ignored() -> None:
    assert read_changes_notice("") is None
    assert read_changes_notice('{"changes": [["not-a-uuid", null, "x", 0, 1]]}') is None
    assert changes_notices([]) == []


def test_positions_from_last_event_id() -> None:
    assert parse_position("2-4711") == (2, 4711)
    assert parse_position(" 0-0 ") == (0, 0)
    assert parse_position("abc") is None
    assert parse_position(None) is None
    assert newer((2, 5), (2, 4))
    assert not newer((2, 4), (2, 4))
    assert newer((1, 1), None)


def snap(aid: UUID, offset: int, status: str = "processing") -> Snapshot:
    return Snapshot(aid, None, status, (0, offset), f"id: 0-{offset}\n\n".encode())


async def test_a_mailbox_keeps_the_latest_state_of_each_analysis_and_drops_older_ones() -> None:
    a, b = uuid4(), uuid4()
    box = Mailbox(10, {a: (0, 3)})
    box.put(snap(a, 2))  # older than what the client has seen
    box.put(snap(a, 5))
    box.put(snap(b, 7))
    box.put(snap(a, 6))
    box.put(snap(a, 4))  # older than what is pending
    assert await box.take() == (False, [snap(a, 6), snap(b, 7)])
    box.put(snap(a, 6))  # already sent
    assert not box._pending


async def test_a_full_mailbox_asks_for_a_resync_and_keeps_what_comes_after() -> None:
    box = Mailbox(2)
    for offset in range(3):
        box.put(snap(uuid4(), offset))
    later = snap(uuid4(), 9)
    box.put(later)
    assert await box.take() == (True, [])
    assert await box.take() == (False, [later])
    waiting = asyncio.ensure_future(box.take())
    await asyncio.sleep(0)
    assert not waiting.done(), "nothing pending: take waits"
    waiting.cancel()
