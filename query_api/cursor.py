"""Opaque keyset cursors for the history: where the previous page ended.

A cursor names the sort it was issued for, the last row's sort value and id,
and the page number it leads to; the next page is "rows after that one", an
index range scan however deep the listing goes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from events import MEDIA_TYPES, MediaAnalysisError

TIME_FIELDS = frozenset({"created_at", "updated_at", "completed_at"})
CHOICES: dict[str, frozenset[str]] = {
    "status": frozenset({"pending", "processing", "completed", "failed", "deleted"}),
    "media_type": frozenset(MEDIA_TYPES),
}

SortValue = datetime | str | int | None


class InvalidCursor(MediaAnalysisError):
    """The cursor is not one this API issued, or was issued for another sort."""


@dataclass(frozen=True, slots=True)
class Cursor:
    sort_by: str
    order: str
    value: SortValue
    last_id: UUID
    page: int


def encode(cursor: Cursor) -> str:
    value = cursor.value.isoformat() if isinstance(cursor.value, datetime) else cursor.value
    raw = [cursor.sort_by, cursor.order, value, str(cursor.last_id), cursor.page]
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()


def decode(token: str, *, sort_by: str, order: str) -> Cursor:
    """The cursor in ``token``; raises InvalidCursor if malformed or for another sort."""
    try:
        raw: Any = json.loads(base64.urlsafe_b64decode(token.encode()))
        issued_sort, issued_order, value, last_id, page = raw
        cursor = Cursor(str(issued_sort), str(issued_order), value, UUID(last_id), int(page))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is malformed; pass next_cursor back unchanged") from exc
    if (cursor.sort_by, cursor.order) != (sort_by, order):
        raise InvalidCursor(
            f"cursor was issued for sort_by={cursor.sort_by}&order={cursor.order}; "
            f"repeat those parameters with it"
        )
    if cursor.page < 2:
        raise InvalidCursor("cursor is malformed; pass next_cursor back unchanged")
    return Cursor(sort_by, order, _typed(sort_by, value), cursor.last_id, cursor.page)


def _typed(sort_by: str, value: Any) -> SortValue:
    if value is None:
        return None
    if sort_by in TIME_FIELDS and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidCursor("cursor is malformed; pass next_cursor back unchanged") from exc
    if sort_by == "progress" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if sort_by in CHOICES and value in CHOICES[sort_by]:
        return str(value)
    raise InvalidCursor("cursor is malformed; pass next_cursor back unchanged")
