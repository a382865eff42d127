"""Which analyses a projector batch changed, announced on :data:`CHANGES_CHANNEL`.

The projector sends the notices from the transaction that changes the rows, so
PostgreSQL delivers them when, and only if, the batch commits; the query side's
live status streams (``query_api.stream``) read the analyses they name instead
of polling. A notice is JSON, ``{"changes": [[analysis id, tenant or null,
CloudEvents type, partition, offset], ...]}``: for each analysis the batch
changed, its tenant and the latest event the batch applied to it. PostgreSQL
refuses payloads of 8000 bytes or more, so a batch's changes are split over
several notices; a batch that would need more than :data:`MAX_NOTICES` sends
the single :data:`RESYNC_NOTICE` instead, and listeners then re-read everything
they follow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

CHANGES_CHANNEL = "analysis_changes"
"""The NOTIFY channel of the change notices."""
NOTICE_MAX_BYTES = 7999
"""The largest payload PostgreSQL takes."""
MAX_NOTICES = 16
"""Notices one batch may send; more changes than fit become :data:`RESYNC_NOTICE`."""
RESYNC_NOTICE = '{"resync":true}'
"""Too many changes to name: whoever follows analyses reads them all again."""

_OPEN, _CLOSE = '{"changes":[', "]}"


@dataclass(frozen=True, slots=True)
class Change:
    """One analysis a batch changed, and the latest event the batch applied to it."""

    analysis_id: UUID
    tenant: UUID | None
    type: str
    partition: int
    offset: int


def changes_notices(changes: Sequence[Change]) -> list[str]:
    """The payloads announcing ``changes``: each under :data:`NOTICE_MAX_BYTES`,
    at most :data:`MAX_NOTICES` of them, else ``[RESYNC_NOTICE]``."""
    notices: list[str] = []
    entries: list[str] = []
    size = len(_OPEN) + len(_CLOSE)
    for change in changes:
        tenant = str(change.tenant) if change.tenant is not None else None
        entry = json.dumps(
            [str(change.analysis_id), tenant, change.type, change.partition, change.offset],
            separators=(",", ":"),
        )
        grown = size + len(entry.encode()) + (1 if entries else 0)
        if entries and grown > NOTICE_MAX_BYTES:
            notices.append(_OPEN + ",".join(entries) + _CLOSE)
            entries, grown = [], len(_OPEN) + len(_CLOSE) + len(entry.encode())
        entries.append(entry)
        size = grown
    if entries:
        notices.append(_OPEN + ",".join(entries) + _CLOSE)
    if len(notices) > MAX_NOTICES or any(len(n.encode()) > NOTICE_MAX_BYTES for n in notices):
        return [RESYNC_NOTICE]
    return notices


def read_changes_notice(payload: str) -> list[Change] | None:
    """The changes a notice names; None when the listener must re-read everything
    it follows (a resync notice, or a payload it cannot read)."""
    try:
        notice = json.loads(payload)
        return [
            Change(UUID(a), UUID(t) if t is not None else None, str(kind), int(p), int(o))
            for a, t, kind, p, o in notice["changes"]
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
