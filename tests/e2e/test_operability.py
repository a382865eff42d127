"""What an operator reads off the running services: JSON log lines that select one
analysis across processes, the processor's and projector's own /metrics,
/healthz and /readyz, and alert rules and a dashboard that name only metrics the
services export."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import uuid4

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, MediaServer, Service, free_port, wait_for_status, wait_until

pytestmark = pytest.mark.stack

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
METRIC_NAME = re.compile(r"\bmedia_analysis_[a-z0-9_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> tuple[Samples, set[str]]:
    """The samples of ``url``/metrics by name and labels, and every family named."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    samples: Samples = {}
    names: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        names.add(family.name)
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, names


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def json_lines(service: Service) -> list[dict[str, Any]]:
    lines = service.log_path.read_text(errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"{service.log_path.name}:{number} is not JSON: {line[:200]}")
        assert isinstance(record, dict), line
        records.append(record)
    return records


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def ops(services: dict[str, Service], ops_ports: dict[str, int]) -> dict[str, str]:
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ops_ports.items()}
    for name, url in urls.items():
        wait_until(lambda url=url: answers(f"{url}/readyz"), timeout=90, what=f"{name} /readyz")
    return urls


def test_consumers_answer_health_and_readiness(ops: dict[str, str]) -> None:
    for name, url in ops.items():
        assert httpx.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 200, (name, ready.text)
        checks = ready.json()["checks"]
        assert set(checks) == {"kafka", "postgres", "partitions", "progress"}, checks
        assert set(checks.values()) == {"ok"}


def test_one_analysis_moves_the_metrics_and_its_log_lines_select_it(
    ops: dict[str, str],
    services: dict[str, Service],
    client: httpx.Client,
    media_server: MediaServer,
) -> None:
    processor_before, _ = scrape(ops["processor"])
    projector_before, _ = scrape(ops["projector"])

    response = client.post(
        "/api/media/analyze",
        json={"prompt": "ops", "media_url": media_server.url("clip.mp4"), "media_type": "video"},
    )
    assert response.status_code == 202, response.text
    analysis_id = response.json()["analysis_id"]
    done = wait_for_status(client, analysis_id, {"completed", "failed"}, timeout=120)
    assert done["status"] == "completed", done["error_message"]
    # A key in a query string never reaches the log: only the route template does.
    client.get("/api/media/history", params={"per_page": 1, "api_key": "leaky-key-7f3a"})

    processor, _ = scrape(ops["processor"])
    finished = "media_analysis_analyses_finished_total"
    completed = total(processor, finished, outcome="completed")
    assert completed >= total(processor_before, finished, outcome="completed") + 1
    probes = "media_analysis_stage_duration_seconds_count"
    assert total(processor, probes, stage="probe") > total(processor_before, probes, stage="probe")
    assert total(processor, "media_analysis_analysis_slots") >= 1
    assert ("media_analysis_analyses_in_flight", ()) in processor
    assert any(n == "media_analysis_consumer_lag_records" for n, _ in processor)
    assert total(processor, "media_analysis_db_pool_max_connections", pool="processor_ledger") > 0

    def projector_moved() -> Samples | None:
        projector, _ = scrape(ops["projector"])
        applied = "media_analysis_projector_events_applied_total"
        return projector if total(projector, applied) > total(projector_before, applied) else None

    projector = wait_until(projector_moved, timeout=10, what="the projector's metrics")
    for name in (
        "media_analysis_projector_batch_records_count",
        "media_analysis_projector_apply_duration_seconds_count",
    ):
        assert total(projector, name) > total(projector_before, name), name
    lag = {
        dict(labels)["partition"]: value
        for (name, labels), value in projector.items()
        if name == "media_analysis_consumer_lag_records"
    }
    assert lag, "lag per assigned partition"
    assert total(projector, "media_analysis_db_pool_max_connections", pool="projector") > 0

    # Every line of every service is one JSON object; one analysis's lines are
    # selected by its id in each of the three processes.
    def lines_of_analysis() -> dict[str, list[dict[str, Any]]] | None:
        found = {
            name: [r for r in json_lines(s) if r.get("analysis_id") == analysis_id]
            for name, s in services.items()
        }
        return found if all(found.values()) else None

    selected = wait_until(lines_of_analysis, timeout=10, what="the analysis's lines")
    for name, records in selected.items():
        for record in records:
            assert {"time", "level", "service", "message"} <= set(record), record
            assert record["service"] == name
            assert record["correlation_id"], record
    post = [r for r in selected["api"] if r.get("logger") == "http_edge.access"]
    assert post, selected["api"]
    assert post[0]["method"] == "POST"
    assert post[0]["route"] == "/api/media/analyze"
    assert post[0]["status"] == 202
    assert post[0]["duration_ms"] >= 0
    assert any("read model" in r["message"] for r in selected["projector"])
    for service in services.values():
        assert "leaky-key-7f3a" not in service.log_path.read_text(errors="replace")


def rule_metric_names() -> set[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return {m for expr in exprs for m in METRIC_NAME.findall(expr)}


def family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_alerts_and_dashboard_name_only_exported_metrics(
    ops: dict[str, str], base_url: str
) -> None:
    exported: set[str] = set()
    for url in (base_url, *ops.values()):
        exported |= scrape(url)[1]
    used = rule_metric_names()
    assert used, "the rules name metrics"
    missing = {name for name in used if family(name) not in exported}
    assert not missing, f"not exported by any service: {sorted(missing)}"


def test_the_all_in_one_runner_answers_for_its_consumers_on_the_api_port(
    prepared: dict[str, str], ops: dict[str, str]
) -> None:
    port = free_port()
    env = {**prepared, "API_PORT": str(port), "PROJECTOR_GROUP_ID": f"ops-all-{uuid4()}"}
    everything = Service("ops-all", "all", env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{url}/readyz"), timeout=90, what="all's /readyz")
        checks = httpx.get(f"{url}/readyz", timeout=10).json()["checks"]
        for name in (
            "kafka",
            "postgres",
            "processor.partitions",
            "projector.progress",
            "notifier.postgres",
        ):
            assert checks[name] == "ok", checks
        _, names = scrape(url)
        for name in (
            "media_analysis_http_requests",
            "media_analysis_analysis_slots",
            "media_analysis_projector_batch_records",
            "media_analysis_consumer_lag_records",
        ):
            assert name in names, name
        assert {r["service"] for r in json_lines(everything)} == {"all"}
    finally:
        everything.stop()
    # Its processor left the group: the session's processor owns partitions again.
    wait_until(lambda: answers(f"{ops['processor']}/readyz"), timeout=60, what="the rebalance")
