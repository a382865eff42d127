"""Property-based fuzz of the published OpenAPI document (schemathesis) over
every endpoint of the running API: no 5xx, and every status code, content type,
header and body the API answers is one the document describes.

Bounded: a few examples per operation. Media URLs the API would accept are
pointed at a missing file on the local media server, so no fuzzed request makes a processor
reach out to another host.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import AnyHttpUrl, TypeAdapter, ValidationError
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.stack

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
_HTTP_URL = TypeAdapter(AnyHttpUrl)
MAX_EXAMPLES = 15
EXPECTED = {
    "POST /api/media/analyze",
    "DELETE /api/media/{analysis_id}",
    "GET /api/media/status/{analysis_id}",
    "GET /api/media/history",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
}

ENDLESS = {"GET /api/media/stream"}
"""Streams that last until the client leaves (tests/e2e/test_status_stream.py)."""


def keep_fetches_local(body: Any, local_url: str) -> None:
    """Replace a media_url the API would accept by an equally valid local one."""
    if not isinstance(body, dict) or not isinstance(body.get("media_url"), str):
        return
    try:
        _HTTP_URL.validate_python(body["media_url"])
    except ValidationError:
        return  # the API refuses it: nothing gets fetched
    body["media_url"] = local_url


def fuzz(operation: Any, mode: GenerationMode, local_url: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def one(case: Any) -> None:
        keep_fetches_local(case.body, local_url)
        case.call_and_validate(checks=CHECKS)

    one()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_endpoint_answers_as_documented(
    base_url: str, gone_media_url: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert labels >= EXPECTED, EXPECTED - labels
    failures: list[str] = []
    for operation in operations:
        if operation.label in ENDLESS:
            continue
        try:
            fuzz(operation, mode, gone_media_url)
        except Unsatisfiable:
            # No parameters and no body: there is nothing to make invalid.
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # report every operation's failure, not just the first
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)
