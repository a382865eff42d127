"""The command side's idempotency-key store on the real PostgreSQL: one owner
per key, refusal of a different body, release after a failed publication and
take-over of a claim abandoned by a crash."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest

from command_api.idempotency import (
    IdempotencyKeyReused,
    PostgresIdempotencyStore,
    request_hash,
)


def test_the_first_claim_owns_the_key_and_later_ones_get_its_analysis(run_on_pool: Any) -> None:
    key, digest, first, second = str(uuid4()), request_hash({"a": 1}), uuid4(), uuid4()

    async def scenario(pool: Any) -> None:
        store = PostgresIdempotencyStore(pool, stale_after=60)
        claims = await asyncio.gather(*(store.claim(key, digest, i) for i in (first, second)))
        owners = [c for c in claims if c.owned]
        assert len(owners) == 1
        assert {c.analysis_id for c in claims} == {owners[0].analysis_id}
        with pytest.raises(IdempotencyKeyReused, match="different request body"):
            await store.claim(key, request_hash({"a": 2}), uuid4())

    run_on_pool(scenario)


def test_a_released_claim_can_be_claimed_again(run_on_pool: Any) -> None:
    key, digest = str(uuid4()), request_hash({"b": 1})

    async def scenario(pool: Any) -> None:
        store = PostgresIdempotencyStore(pool, stale_after=60)
        first = await store.claim(key, digest, uuid4())
        await store.release(key)  # its publication failed
        again = await store.claim(key, digest, uuid4())
        assert again.owned
        assert again.analysis_id != first.analysis_id

    run_on_pool(scenario)


def test_an_abandoned_claim_is_taken_over_with_the_same_analysis(run_on_pool: Any) -> None:
    key, digest = str(uuid4()), request_hash({"c": 1})

    async def scenario(pool: Any) -> None:
        impatient = PostgresIdempotencyStore(pool, stale_after=0)
        crashed = await impatient.claim(key, digest, uuid4())
        taken = await impatient.claim(key, digest, uuid4())
        assert taken.owned
        assert taken.analysis_id == crashed.analysis_id
        await impatient.mark_published(key)
        await impatient.release(key)  # a published claim is never released
        after = await impatient.claim(key, digest, uuid4())
        assert not after.owned
        assert after.analysis_id == crashed.analysis_id

    run_on_pool(scenario)


def test_the_hash_ignores_key_order() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": "1"})
