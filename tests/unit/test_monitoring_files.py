"""The example Prometheus alert rules and the Grafana dashboard (docs/operating.md) parse,
and name only metrics the exporter really serves: the workers' counters
(observability/metrics.py) and the gauges `bounce-worker metrics` computes at each scrape
(observability/exporter.py), collected here from an embedded database."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from bounce_worker.config import settings
from bounce_worker.observability import metrics
from bounce_worker.observability.exporter import DomainCollector
from bounce_worker.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "bounce-worker.json"
NAME = re.compile(r"\bbounce_worker_[a-z_]+\b")
LABEL_NAME = re.compile(r"\$labels\.([a-z_]+)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Every metric name the exporter serves, with its label names."""
    mp = pytest.MonkeyPatch()
    for key in [k for k in os.environ if k.startswith("BOUNCE_WORKER_")]:
        mp.delenv(key)
    mp.setenv("BOUNCE_WORKER_HOME", str(tmp_path_factory.mktemp("exporter")))
    settings.cache_clear()
    try:
        s = settings()
        upgrade(s.database_url)
        families = list(DomainCollector(s).collect())
    finally:
        mp.undo()
        settings.cache_clear()
    names: dict[str, set[str]] = {}
    for family in families:
        names[family.name] = {label for sample in family.samples for label in sample.labels}
    for obj in vars(metrics).values():
        if isinstance(obj, MetricWrapperBase):
            for family in obj.collect():
                suffix = "_total" if family.type == "counter" else ""
                names[family.name + suffix] = set(obj._labelnames)
    assert {"bounce_worker_entries", "bounce_worker_queue_depth"} <= set(names)
    assert "bounce_worker_transitions_total" in names
    return names


def rules() -> Iterator[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    for group in doc["groups"]:
        yield from group["rules"]


def test_alert_rules_parse_and_are_complete() -> None:
    seen = set()
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["alert"] not in seen and re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
        seen.add(rule["alert"])
        assert rule["expr"].strip() and rule["labels"]["severity"] in {"page", "warn", "info"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smhd]", rule["for"]), rule["for"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
    assert len(seen) >= 8


def test_alert_rules_name_only_served_metrics(served: dict[str, set[str]]) -> None:
    named = set()
    for rule in rules():
        for name in NAME.findall(rule["expr"]):
            assert name in served, f"{rule['alert']}: {name} is not served by the exporter"
            named.add(name)
        labels = set().union(*(served[n] for n in NAME.findall(rule["expr"])))
        # Prometheus renames the exporter's own `job` label to `exported_job`.
        labels |= {"exported_job", "instance", "job"}
        for text in rule["annotations"].values():
            for label in LABEL_NAME.findall(text):
                assert label in labels, f"{rule['alert']}: no label {label!r}"
    assert len(named) >= 7  # most of what is served is watched


def test_dashboard_parses_and_queries_only_served_metrics(served: dict[str, set[str]]) -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["title"] == "bounce-worker" and dash["uid"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    named = set()
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel["targets"]:
            found = NAME.findall(target["expr"])
            assert found, (panel["title"], target["expr"])
            for name in found:
                assert name in served, f"{panel['title']}: {name} is not served"
                named.add(name)
    core = {"bounce_worker_transitions_total", "bounce_worker_entries", "bounce_worker_queue_depth",
            "bounce_worker_dead_letters_waiting", "bounce_worker_scrape_ok",
            "bounce_worker_job_last_success_timestamp_seconds"}  # fmt: skip
    assert core <= named, f"not on the dashboard: {core - named}"
