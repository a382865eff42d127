"""The contract other teams code against: published schemas match the code,
are served over HTTP, and a plain Kafka + CloudEvents SDK subscriber reads
every event of an analysis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import httpx
import jsonschema
import pytest

from events.contract import all_schemas, asyncapi_document, render
from tests.conftest import MediaServer, wait_for_status

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "events"


def test_the_published_documents_match_the_code() -> None:
    stale = "regenerate with: python -m events.contract docs/events"
    assert (PUBLISHED / "asyncapi.json").read_text() == render(asyncapi_document()), stale
    published = {p.name for p in (PUBLISHED / "schemas").glob("*.json")}
    assert published == set(all_schemas()), stale
    for name, schema in all_schemas().items():
        assert (PUBLISHED / "schemas" / name).read_text() == render(schema), f"{name}: {stale}"
        jsonschema.Draft202012Validator.check_schema(schema)


ASYNCAPI_3_SCHEMA = ROOT / "tests" / "fixtures" / "asyncapi" / "3.0.0.json"
"""The AsyncAPI 3.0.0 JSON Schema as npm's @asyncapi/specs 6.11.1 ships it
(schemas/3.0.0.json, Apache-2.0, LICENSE beside it)."""


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_3_SCHEMA.read_text()))
    document = asyncapi_document()
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    # The schema is strict enough to catch a slip: AsyncAPI 2's verbs are not 3.0's.
    document["operations"]["sendCommands"]["action"] = "publish"
    assert not validator.is_valid(document)


def test_the_asyncapi_document_says_who_sends_which_events() -> None:
    operations = asyncapi_document()["operations"]
    sent = {
        name: [m["$ref"].rsplit("/", 1)[1] for m in op["messages"]]
        for name, op in operations.items()
        if op["action"] == "send"
    }
    assert sent == {
        "sendCommands": ["AnalysisRequested", "AnalysisDeleted"],
        "sendProcessing": [
            "AnalysisStarted",
            "AnalysisProgressed",
            "AnalysisCompleted",
            "AnalysisFailed",
        ],
    }
    assert operations["receiveEvents"]["action"] == "receive"


@pytest.mark.stack
def test_the_contract_is_served_over_http(client: httpx.Client) -> None:
    assert client.get("/api/events/asyncapi.json").json() == asyncapi_document()
    names = client.get("/api/events/schemas").json()["schemas"]
    assert "analysis.requested.v1.json" in names
    schema = client.get("/api/events/schemas/analysis.requested.v1.json").json()
    assert schema["x-cloudevents-type"] == "media-analysis.analysis.requested"
    missing = client.get("/api/events/schemas/nope.json")
    assert missing.status_code == 404
    assert "No event schema" in missing.json()["detail"]


@pytest.mark.stack
def test_the_example_subscriber_sees_every_event_of_an_analysis(
    client: httpx.Client, media_server: MediaServer
) -> None:
    submitted = client.post(
        "/api/media/analyze",
        json={
            "prompt": "contract",
            "media_url": media_server.url("clip.mp4"),
            "media_type": "video",
        },
    )
    assert submitted.status_code == 202
    analysis_id = submitted.json()["analysis_id"]
    wait_for_status(client, analysis_id, {"completed", "failed"})

    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "subscriber.py"),
            "--bootstrap",
            os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            "--analysis",
            analysis_id,
            "--seconds",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    types = [e["type"].removeprefix("media-analysis.analysis.") for e in events]
    assert types[0] == "requested"
    assert types[1] == "started"
    assert types[-1] in ("completed", "failed")
    assert "progressed" in types
    schemas = {s["x-cloudevents-type"]: s for s in all_schemas().values()}
    for event in events:
        assert event["specversion"] == "1.0"
        assert event["subject"] == analysis_id
        assert event["source"].startswith("/media-analysis/")
        assert event["time"]
        UUID(event["id"])
        jsonschema.validate(event["data"], schemas[event["type"]])
    assert len({e["id"] for e in events}) == len(events)
