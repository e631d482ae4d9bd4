"""Flower, started as the compose file starts it, shows the worker's tasks by their names."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import Worker, run_cli, wait_until
from tests.integration.observe import (
    EVENTS,
    Server,
    free_port,
    http_get,
    samples,
    value,
    write_feed,
)

AUTH = "ops:test-only-password"


@pytest.fixture
def flower(worker: Worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Basic auth from the environment, as docker-compose.yml passes it.
    monkeypatch.setenv("FLOWER_BASIC_AUTH", AUTH)
    port = free_port()
    server = Server(
        [
            "celery",
            "-A",
            "bounce_worker.celery_app",
            "flower",
            f"--port={port}",
            "--address=127.0.0.1",
        ],
        tmp_path / "flower.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until(lambda: http_get(f"{base}/healthcheck")[0] == 200, timeout=60)
            # Flower only sees events sent after it connected: wait for the worker's heartbeat.
            name = worker_name(worker)
            wait_until(lambda: value(scrape(base), "flower_worker_online", worker=name) == 1, 60)
        except AssertionError:
            raise AssertionError(f"flower not ready: {server.output()}") from None
        yield base
    finally:
        server.stop()


def scrape(base: str) -> dict:
    return samples(http_get(f"{base}/metrics")[1])


def worker_name(worker: Worker) -> str:
    return worker.args[worker.args.index("-n") + 1].replace("%h", socket.gethostname())


def test_flower_shows_every_task_by_name(
    flower: str, worker: Worker, worker_env: Engine, tmp_path: Path
) -> None:
    # One message per event: the test counts process_event tasks.
    published = run_cli("publish", "--batch-size", "1", str(write_feed(tmp_path / "feed.jsonl")))
    assert published.returncode == 0, published.stderr

    # Other test runs may share this Redis and send events too: ask for our worker's tasks.
    query = f"taskname=bounce_worker.process_event&workername={worker_name(worker)}"

    def tasks() -> dict[str, dict]:
        status, body = http_get(f"{flower}/api/tasks?{query}", AUTH)
        assert status == 200, body
        return json.loads(body)

    try:
        wait_until(
            lambda: [t["state"] for t in tasks().values()] == ["SUCCESS"] * (len(EVENTS) + 1), 60
        )
    except AssertionError:
        raise AssertionError(f"flower saw {tasks()}") from None
    seen = tasks().values()
    assert {t["worker"] for t in seen} == {worker_name(worker)}
    assert sorted(t["result"] for t in seen) == sorted(["'applied'"] * 3 + ["'dead_lettered'"])
    assert all(t["received"] and t["succeeded"] for t in seen)

    # The API is closed without the credentials.
    assert http_get(f"{flower}/api/tasks")[0] == 401
    assert http_get(f"{flower}/api/tasks", "ops:wrong")[0] == 401

    # Flower's own Prometheus endpoint counts the same tasks.
    succeeded = value(
        scrape(flower),
        "flower_events_total",
        task="bounce_worker.process_event",
        type="task-succeeded",
        worker=worker_name(worker),
    )
    assert succeeded == len(EVENTS) + 1


def test_health_reports_each_component(worker: Worker) -> None:
    # Any worker will do (other test runs on this Redis may answer first).
    ok = run_cli("health", "--timeout", "5")
    assert ok.returncode == 0, ok.stderr
    assert re.fullmatch(r"healthy: database, broker, worker \S+@\S+\n", ok.stdout), ok.stdout

    own = run_cli("health", "--worker", worker_name(worker), "--timeout", "5")
    assert own.returncode == 0, own.stderr
    assert own.stdout == f"healthy: database, broker, worker {worker_name(worker)}\n"
