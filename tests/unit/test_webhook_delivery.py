"""The notifier's signing and retry schedule, as functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from notifier.scheduler import JITTER, DeliveryPolicy
from notifier.sender import signed_headers
from read_model.webhooks import delivery_id, new_secret


def test_signed_headers_verify_with_the_standardwebhooks_library() -> None:
    secret = new_secret()
    body = '{"type":"media-analysis.analysis.completed","data":{}}'
    headers = signed_headers(secret, "wh-1", body, datetime.now(UTC))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {
        "type": "media-analysis.analysis.completed",
        "data": {},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + " ", headers)


def test_the_delivery_id_is_the_same_for_the_same_event() -> None:
    assert delivery_id("event-1") == delivery_id("event-1") != delivery_id("event-2")


def test_retries_follow_the_schedule_with_jitter_and_then_stop() -> None:
    policy = DeliveryPolicy(
        schedule=(5, 300), timeout_seconds=1, concurrency=1, poll_seconds=1, secret=None
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for attempts_before, delay in ((0, 5), (1, 300)):
        at = policy.next_attempt(attempts_before, now)
        assert at is not None
        assert (
            timedelta(seconds=delay * (1 - JITTER))
            <= at - now
            <= timedelta(seconds=delay * (1 + JITTER))
        )
    assert policy.next_attempt(2, now) is None
