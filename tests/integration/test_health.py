"""`bounce-worker health` names the first component that does not answer, in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import REPO, Worker, run_cli, set_env
from tests.unit.compose import env_example, interpolate, load

BIN = Path(sys.executable).parent  # where the `bounce-worker` console script is installed


def one_line_failure(*args: str) -> str:
    result = run_cli("health", *args)
    assert result.returncode == 1, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("bounce-worker: error: unhealthy: ")
    return result.stderr


def test_without_worker_check_database_and_broker_suffice(worker_env: Engine) -> None:
    result = run_cli("health", "--skip-worker")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "healthy: database, broker\n"


def test_named_worker_that_is_not_running(worker_env: Engine) -> None:
    # A unique name: other test runs may have workers on the same Redis answering pings.
    name = f"celery@absent-{uuid.uuid4().hex[:8]}"
    err = one_line_failure("--worker", name, "--timeout", "1")
    assert f"worker {name} did not answer a ping within 1s" in err


def test_broker_down(worker_env: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, broker_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    assert "broker unreachable: " in one_line_failure("--timeout", "1")


def test_database_down(worker_env: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, database_url="postgresql://postgres@127.0.0.1:1/none")
    assert "database unreachable: " in one_line_failure("--timeout", "1")


def test_database_not_migrated(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch, empty_pg_url: str
) -> None:
    set_env(monkeypatch, database_url=empty_pg_url)
    assert "schema is not current" in one_line_failure("--skip-worker")


def test_the_compose_worker_healthcheck_runs_as_written(worker_env: Engine) -> None:
    """The worker service's CMD-SHELL line, run by a shell with the container's HOSTNAME,
    against a worker named as Celery names it in a container (celery@<hostname>)."""
    host = f"bw-{uuid.uuid4().hex[:8]}"
    test = load()["services"]["worker"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    line = interpolate(test[1], env_example())
    worker = Worker(extra_args=["-n", f"celery@{host}"]).start()
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", line],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "HOSTNAME": host, "PATH": f"{BIN}:{os.environ['PATH']}"},
            timeout=60,
        )
    finally:
        worker.stop()
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"healthy: database, broker, worker celery@{host}\n"
