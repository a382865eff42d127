"""History cursors: what one encodes comes back, typed for its sort field;
tampered or mismatched cursors are refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from query_api.cursor import Cursor, InvalidCursor, decode, encode


@pytest.mark.parametrize(
    ("sort_by", "value"),
    [
        ("created_at", datetime(2026, 1, 20, 10, 0, tzinfo=UTC)),
        ("completed_at", None),
        ("status", "failed"),
        ("media_type", "video"),
        ("progress", 42),
    ],
)
def test_a_cursor_round_trips_for_every_sort_field(sort_by: str, value: object) -> None:
    cursor = Cursor(sort_by, "asc", value, uuid4(), 7)  # type: ignore[arg-type]
    assert decode(encode(cursor), sort_by=sort_by, order="asc") == cursor


def test_a_cursor_for_another_order_is_refused() -> None:
    token = encode(Cursor("progress", "asc", 3, uuid4(), 2))
    with pytest.raises(InvalidCursor, match="sort_by=progress&order=asc"):
        decode(token, sort_by="progress", order="desc")


def forged(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode()


@pytest.mark.parametrize(
    ("sort_by", "token"),
    [
        ("progress", "not base64 at all!"),
        ("progress", forged({"a": 1})),
        ("progress", forged(["progress", "asc", "three", str(uuid4()), 2])),
        ("progress", forged(["progress", "asc", True, str(uuid4()), 2])),
        ("created_at", forged(["created_at", "asc", "yesterday", str(uuid4()), 2])),
        ("status", forged(["status", "asc", 5, str(uuid4()), 2])),
        ("progress", forged(["progress", "asc", 3, "not-a-uuid", 2])),
        ("progress", forged(["progress", "asc", 3, str(uuid4()), 1])),
    ],
)
def test_a_malformed_cursor_is_refused(sort_by: str, token: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(token, sort_by=sort_by, order="asc")
