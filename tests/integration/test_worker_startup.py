"""A worker's start and stop (issue 14, operations): on a fresh embedded home it migrates
and works, and SIGTERM ends it within the warm-shutdown time; on a server database without
the schema, with a placeholder secret, a short HMAC key or a setting it cannot use, it exits
at once with one line."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import Worker, run_cli, run_refused_worker, set_env, wait_until

WARM_SHUTDOWN = 15.0  # seconds: an idle worker's warm shutdown takes a few at most


def test_worker_on_a_fresh_embedded_home_migrates_and_stops_on_sigterm(
    env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(os.environ["BOUNCE_WORKER_HOME"])
    assert not home.exists()  # nothing ran before the worker: no database, no broker file
    worker = Worker(concurrency=1).start(wait=120)
    assert worker.proc is not None
    try:
        feed = tmp_path / "feed.jsonl"
        event = {"event_id": "fresh-1", "type": "bounce", "recipient": "fresh@example.org",
                 "status": "5.1.1", "occurred_at": "2026-11-20T10:00:00Z"}  # fmt: skip
        feed.write_text(json.dumps(event) + "\n")
        published = run_cli("publish", str(feed))
        assert published.returncode == 0, published.stderr

        def blocked() -> bool:
            out = run_cli("status", "fresh@example.org")
            return out.returncode == 0 and "blocked" in out.stdout

        wait_until(blocked, timeout=90)
    finally:
        started = time.monotonic()
        os.killpg(worker.proc.pid, signal.SIGTERM)
        try:
            worker.proc.wait(timeout=60)
        finally:
            worker.kill()
    took = time.monotonic() - started
    log = worker.log.read_text(errors="replace")
    assert took < WARM_SHUTDOWN, (took, log[-2000:])
    assert "no such table" not in log


def test_worker_on_a_server_database_without_schema_exits_at_once(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, empty_pg_url: str, redis_url: str
) -> None:
    set_env(monkeypatch, database_url=empty_pg_url, broker_url=redis_url, queue="bw-never-used")
    started = time.monotonic()
    out = run_refused_worker()
    assert out.returncode != 0 and time.monotonic() - started < 30
    assert [ln for ln in out.stderr.splitlines() if ln.startswith("bounce-worker:")] == [
        "bounce-worker: database schema is not current: run `bounce-worker db upgrade`"
    ]
    assert "Traceback" not in out.stderr


def test_worker_and_cli_refuse_a_placeholder_secret(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:CHANGE-ME")
    expected = (
        "FLOWER_BASIC_AUTH still holds the CHANGE-ME placeholder of .env.example: set a real value"
    )
    worker = run_refused_worker()
    assert worker.returncode != 0
    assert worker.stderr.strip().splitlines()[-1] == f"bounce-worker: {expected}"
    cli = run_cli("status", "someone@example.org")
    assert cli.returncode != 0 and cli.stderr.strip().endswith(expected)
    assert cli.stderr.strip().count("\n") == 0


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        # An HMAC key shorter than SHA-256's output (RFC 2104 section 3): a 1-character
        # VERP key made forgeable tokens, and was accepted.
        ("BOUNCE_WORKER_VERP_KEY", "k",
         "BOUNCE_WORKER_VERP_KEY is shorter than 32 bytes, too short for an HMAC-SHA256 key "
         "(RFC 2104): make one with python -c 'import secrets; print(secrets.token_urlsafe(32))'"),
        # A setting the configuration refuses was celeryconfig's import traceback.
        ("BOUNCE_WORKER_LADDER_DAYS", "x",
         "BOUNCE_WORKER_LADDER_DAYS must look like 1,2,3,90; got 'x'"),
        # A ladder that does not escalate (SPEC 3) was taken.
        ("BOUNCE_WORKER_LADDER_DAYS", "3,1",
         "BOUNCE_WORKER_LADDER_DAYS: a ladder climbs: each step longer than the one before "
         "(like 1,2,3,90); got '3,1'"),
    ],
)  # fmt: skip
def test_worker_and_cli_refuse_a_setting_they_cannot_use_in_one_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, setting: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(setting, value)
    worker = run_refused_worker()
    assert worker.returncode != 0
    assert worker.stderr.strip().splitlines() == [f"bounce-worker: {expected}"], worker.stderr
    cli = run_cli("status", "someone@example.org")
    assert cli.returncode != 0 and cli.stderr.strip().endswith(expected)
    assert cli.stderr.strip().count("\n") == 0
