"""The monitoring files an operator deploys: the Prometheus alert rules follow
the rule-file format, the Grafana dashboard is a dashboard, and every compose
service that keeps running has a healthcheck. (That every metric they name is
exported is checked against the running services: tests/e2e/test_operability.py.)

``promtool check rules`` checks the rules as Prometheus reads them: `make test`
fetches promtool once (scripts/promtool.sh, from Debian's prometheus package)
and names it in ``MA_PROMTOOL``. The schema check runs everywhere, including a
bare ``pytest`` without promtool.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
COMPOSE = ROOT / "docker-compose.yml"

DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
RULE_FILE_SCHEMA: dict[str, Any] = {
    # Prometheus's rule file (prometheus/model/rulefmt): groups of alerting rules.
    "type": "object",
    "required": ["groups"],
    "additionalProperties": False,
    "properties": {
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "rules"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": {"type": "string", "pattern": DURATION},
                    "limit": {"type": "integer"},
                    "rules": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["alert", "expr", "labels", "annotations"],
                            "additionalProperties": False,
                            "properties": {
                                "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                                "expr": {"type": "string", "minLength": 1},
                                "for": {"type": "string", "pattern": DURATION},
                                "keep_firing_for": {"type": "string", "pattern": DURATION},
                                "labels": {
                                    "type": "object",
                                    "required": ["severity"],
                                    "properties": {"severity": {"enum": ["warning", "critical"]}},
                                    "additionalProperties": {"type": "string"},
                                },
                                "annotations": {
                                    "type": "object",
                                    "required": ["summary", "description"],
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    jsonschema.validate(document, RULE_FILE_SCHEMA)
    return [rule for group in document["groups"] for rule in group["rules"]]


def balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"[^"]*"', '""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


def test_alert_rules_follow_the_rule_file_format_and_cover_the_prd() -> None:
    found = rules()
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names)), "alert names are unique"
    for rule in found:
        assert balanced(rule["expr"]), rule["alert"]
    exprs = " ".join(rule["expr"] for rule in found)
    # The PRD's monitoring table, the projector's lag and the dead-letter topic.
    for metric in (
        "media_analysis_http_request_duration_seconds_bucket",
        "media_analysis_http_requests_total",
        "media_analysis_db_pool_in_use_connections",
        "media_analysis_consumer_lag_records",
        "media_analysis_dead_lettered_total",
        "node_cpu_seconds_total",
    ):
        assert metric in exprs, metric


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = os.environ.get("MA_PROMTOOL") or shutil.which("promtool")
    if not promtool:
        pytest.skip("no promtool: run the suite with `make test` (scripts/promtool.sh)")
    run = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_alerts_fire_on_the_series_of_their_unit_tests() -> None:
    """deploy/prometheus/alerts.test.yml: database CPU, 5xx share and pool saturation
    above the PRD's thresholds fire with the expected labels and texts; below, nothing."""
    promtool = os.environ.get("MA_PROMTOOL") or shutil.which("promtool")
    if not promtool:
        pytest.skip("no promtool: run the suite with `make test` (scripts/promtool.sh)")
    run = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_dashboard_is_a_grafana_dashboard_of_prometheus_queries() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["type"] == "prometheus"
            assert balanced(target["expr"]), panel["title"]


def test_every_long_running_compose_service_has_a_healthcheck() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, spec in services.items():
        if name.startswith("prestart"):  # one-shot jobs
            continue
        assert (spec.get("healthcheck") or {}).get("test"), f"{name} has no healthcheck"
