"""History over a few hundred analyses: every filter, sort field and order,
page boundaries, the keyset cursor, and exact totals.

The analyses are real events folded by the projector's own store into the
shared database, stamped inside a private time window (a random day in 2001)
so the date filters isolate them from every other test's rows.
"""

from __future__ import annotations

import asyncio
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import select

from events import (
    MEDIA_TYPES,
    AnalysisCompleted,
    AnalysisDeleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
    new_envelope,
)
from infra.database import create_engine
from infra.settings import Settings
from projector.store import Record, apply_batch
from read_model.tables import analysis_request
from tests.partitions import own_partition

pytestmark = pytest.mark.stack

COUNT = 300
SORT_FIELDS = ("created_at", "updated_at", "completed_at", "status", "media_type", "progress")


def _lifecycle(i: int, analysis_id: UUID, start: datetime) -> list[tuple[AnalysisEvent, datetime]]:
    """Analysis ``i``: pairs share a creation time (ties break on id)."""
    created = start + timedelta(minutes=i // 2)
    steps: list[tuple[AnalysisEvent, datetime]] = [
        (
            AnalysisRequested(
                analysis_id=analysis_id,
                prompt=f"history #{i}",
                media_url=f"https://media.invalid/{i}.bin",
                media_type=MEDIA_TYPES[i % len(MEDIA_TYPES)],
            ),
            created,
        )
    ]
    kind = i % 4
    if kind >= 1:
        steps.append((AnalysisStarted(analysis_id=analysis_id, processor="t", attempt=1), created))
        steps.append(
            (
                AnalysisProgressed(
                    analysis_id=analysis_id,
                    stage="probe",
                    stage_status="completed",
                    progress=(i * 7) % 100,
                ),
                created + timedelta(seconds=1 + i % 13),
            )
        )
    if kind == 2:
        done = created + timedelta(seconds=30 + (i * 17) % 300)
        steps.append((AnalysisCompleted(analysis_id=analysis_id, results={"i": i}), done))
    if kind == 3:
        failed = AnalysisFailed(
            analysis_id=analysis_id, error_code="x", error_message="y", retryable=False
        )
        steps.append((failed, created + timedelta(seconds=20 + i % 50)))
    if i % 10 == 9:
        steps.append((AnalysisDeleted(analysis_id=analysis_id), created + timedelta(hours=3)))
    return steps


@pytest.fixture(scope="module")
def window(migrated: dict[str, str]) -> tuple[datetime, datetime, list[dict[str, Any]]]:
    """Fold COUNT analyses into the database; yield the window and their rows."""
    start = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(days=random.randrange(360))
    end = start + timedelta(days=1)
    partition = own_partition()
    records: list[Record] = []
    for i in range(COUNT):
        for event, at in _lifecycle(i, uuid4(), start):
            envelope = new_envelope(event, source="/test/history", time=at)
            records.append(Record(partition, len(records), envelope))

    async def load() -> list[dict[str, Any]]:
        engine = create_engine(Settings(database_url=migrated["DATABASE_URL"]))
        try:
            await apply_batch(engine, records)
            query = select(analysis_request).where(
                analysis_request.c.created_at >= start, analysis_request.c.created_at <= end
            )
            async with engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(query)).mappings().all()]
        finally:
            await engine.dispose()

    rows = asyncio.run(load())
    assert len(rows) == COUNT
    return start, end, rows


def expected_ids(rows: list[dict[str, Any]], sort_by: str, order: str) -> list[str]:
    """The order the API promises: sort value, then id, NULLs last either way."""
    present = [r for r in rows if r[sort_by] is not None]
    absent = [r for r in rows if r[sort_by] is None]
    desc = order == "desc"
    present.sort(key=lambda r: (r[sort_by], r["id"]), reverse=desc)
    absent.sort(key=lambda r: r["id"], reverse=desc)
    return [str(r["id"]) for r in present + absent]


def listing(client: httpx.Client, window: tuple[datetime, datetime, Any], **params: Any) -> Any:
    start, end, _ = window
    query = {"date_from": start.isoformat(), "date_to": end.isoformat(), **params}
    response = client.get("/api/media/history", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def visible(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["status"] != "deleted"]


def test_default_listing_is_newest_first_without_deleted(
    client: httpx.Client, window: tuple[datetime, datetime, list[dict[str, Any]]]
) -> None:
    rows = visible(window[2])
    body = listing(client, window)
    assert body["pagination"] == {
        "page": 1,
        "per_page": 20,
        "total": len(rows),
        "total_pages": math.ceil(len(rows) / 20),
        "next_cursor": body["pagination"]["next_cursor"],
    }
    assert len(rows) == COUNT - COUNT // 10
    assert [d["analysis_id"] for d in body["data"]] == expected_ids(rows, "created_at", "desc")[:20]
    item = body["data"][0]
    assert set(item) == {
        "analysis_id",
        "status",
        "media_type",
        "prompt",
        "progress",
        "created_at",
        "updated_at",
        "completed_at",
    }
    row = next(r for r in rows if str(r["id"]) == item["analysis_id"])
    assert item["prompt"] == row["prompt"]
    assert datetime.fromisoformat(item["created_at"]) == row["created_at"]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort_by", SORT_FIELDS)
def test_every_sort_pages_and_cursor_walk_the_same_order(
    client: httpx.Client,
    window: tuple[datetime, datetime, list[dict[str, Any]]],
    sort_by: str,
    order: str,
) -> None:
    rows = visible(window[2])
    expected = expected_ids(rows, sort_by, order)
    per_page = 47  # does not divide the total: the last page is short
    pages = math.ceil(len(rows) / per_page)

    by_page: list[str] = []
    for page in range(1, pages + 2):
        body = listing(client, window, sort_by=sort_by, order=order, page=page, per_page=per_page)
        assert body["pagination"]["total"] == len(rows)
        assert body["pagination"]["total_pages"] == pages
        last_size = len(rows) - per_page * (pages - 1)
        expected_size = per_page if page < pages else last_size if page == pages else 0
        assert len(body["data"]) == expected_size
        assert (body["pagination"]["next_cursor"] is None) == (page >= pages)
        by_page += [d["analysis_id"] for d in body["data"]]
    assert by_page == expected

    by_cursor: list[str] = []
    body = listing(client, window, sort_by=sort_by, order=order, per_page=per_page)
    seen_pages = [body["pagination"]["page"]]
    by_cursor += [d["analysis_id"] for d in body["data"]]
    while body["pagination"]["next_cursor"]:
        body = listing(
            client,
            window,
            sort_by=sort_by,
            order=order,
            per_page=per_page,
            cursor=body["pagination"]["next_cursor"],
        )
        assert body["pagination"]["total"] == len(rows)
        seen_pages.append(body["pagination"]["page"])
        by_cursor += [d["analysis_id"] for d in body["data"]]
    assert by_cursor == expected
    assert seen_pages == list(range(1, pages + 1))


def test_a_cursor_is_refused_under_another_sort(
    client: httpx.Client, window: tuple[datetime, datetime, list[dict[str, Any]]]
) -> None:
    first = listing(client, window, sort_by="progress", order="asc", per_page=10)
    response = client.get(
        "/api/media/history",
        params={"cursor": first["pagination"]["next_cursor"], "sort_by": "progress"},
    )
    assert response.status_code == 400
    assert "sort_by=progress&order=asc" in response.json()["detail"]


@pytest.mark.parametrize("status", ["pending", "processing", "completed", "failed", "deleted"])
def test_status_filter_lists_exactly_that_status(
    client: httpx.Client, window: tuple[datetime, datetime, list[dict[str, Any]]], status: str
) -> None:
    rows = [r for r in window[2] if r["status"] == status]
    assert rows
    body = listing(client, window, status=status, per_page=100)
    assert body["pagination"]["total"] == len(rows)
    assert {d["analysis_id"] for d in body["data"]} == {str(r["id"]) for r in rows}
    assert {d["status"] for d in body["data"]} == {status}


@pytest.mark.parametrize("media_type", MEDIA_TYPES)
def test_media_type_filter_alone_and_with_status(
    client: httpx.Client, window: tuple[datetime, datetime, list[dict[str, Any]]], media_type: str
) -> None:
    rows = [r for r in visible(window[2]) if r["media_type"] == media_type]
    body = listing(client, window, media_type=media_type, per_page=100)
    assert body["pagination"]["total"] == len(rows)
    assert [d["analysis_id"] for d in body["data"]] == expected_ids(rows, "created_at", "desc")

    completed = [r for r in rows if r["status"] == "completed"]
    both = listing(client, window, media_type=media_type, status="completed", per_page=100)
    assert both["pagination"]["total"] == len(completed)
    assert {d["analysis_id"] for d in both["data"]} == {str(r["id"]) for r in completed}


def test_date_bounds_are_inclusive_and_accept_dates_without_a_zone(
    client: httpx.Client, window: tuple[datetime, datetime, list[dict[str, Any]]]
) -> None:
    start, _, all_rows = window
    rows = visible(all_rows)
    low, high = start + timedelta(minutes=10), start + timedelta(minutes=40)
    inside = [r for r in rows if low <= r["created_at"] <= high]
    naive = {
        "date_from": low.replace(tzinfo=None).isoformat(),
        "date_to": high.replace(tzinfo=None).isoformat(),
    }
    body = client.get("/api/media/history", params={**naive, "per_page": 100}).json()
    assert body["pagination"]["total"] == len(inside)
    assert {d["analysis_id"] for d in body["data"]} == {str(r["id"]) for r in inside}

    only_start = client.get(
        "/api/media/history", params={"date_from": low.isoformat(), "date_to": low.isoformat()}
    ).json()
    assert only_start["pagination"]["total"] == len([r for r in rows if r["created_at"] == low])
    assert only_start["pagination"]["total"] == 2


def test_a_page_past_the_end_is_empty_but_counts(
    client: httpx.Client, window: tuple[datetime, datetime, list[dict[str, Any]]]
) -> None:
    body = listing(client, window, page=1000, per_page=100)
    assert body["data"] == []
    assert body["pagination"]["total"] == len(visible(window[2]))
    assert body["pagination"]["next_cursor"] is None


@pytest.mark.parametrize(
    "filters",
    [{}, {"status": "all"}, {"media_type": "all"}, {"status": "all", "media_type": "all"}],
)
def test_all_filters_nothing_and_a_date_only_date_to_includes_its_day(
    client: httpx.Client,
    window: tuple[datetime, datetime, list[dict[str, Any]]],
    filters: dict[str, str],
) -> None:
    start, _, rows = window
    day = start.date().isoformat()
    params = {"date_from": day, "date_to": day, "per_page": 100, **filters}
    body = client.get("/api/media/history", params=params).json()
    assert body["pagination"]["total"] == len(visible(rows))
    # A timestamp keeps its exact meaning: only the pair created at midnight itself.
    midnight = {**params, "date_to": start.isoformat()}
    at_midnight = [r for r in visible(rows) if r["created_at"] == start]
    assert client.get("/api/media/history", params=midnight).json()["pagination"]["total"] == 2
    assert len(at_midnight) == 2
