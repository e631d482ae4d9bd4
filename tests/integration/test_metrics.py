"""The metrics exporter sums the prefork workers' counters and reads the gauges live;
the worker's JSON log has one line per transition and dead letter, without bodies."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import REPO, Worker, run_cli, set_env, wait_until
from tests.integration.observe import EVENTS, Server, free_port, http_get, samples, write_feed
from tests.integration.observe import value as v


def test_metrics_and_json_logs_after_processing(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    set_env(monkeypatch, log_format="json")
    port = free_port()
    exporter = Server(
        ["bounce_worker.cli", "metrics", "--port", str(port)], tmp_path / "exporter.log"
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(lambda: http_get(url)[0] == 200, timeout=60)
        # One message per event: the queue depth below counts them.
        published = run_cli(
            "publish", "--batch-size", "1", str(write_feed(tmp_path / "feed.jsonl"))
        )
        assert published.returncode == 0, published.stderr

        # No worker yet: the four messages wait on the queue.
        before = samples(http_get(url)[1])
        assert v(before, "bounce_worker_queue_depth", queue=worker_env_queue()) == 4
        assert v(before, "bounce_worker_scrape_ok", source="database") == 1
        assert v(before, "bounce_worker_scrape_ok", source="broker") == 1
        assert v(before, "bounce_worker_dead_letters_waiting") == 0

        worker = Worker(concurrency=2).start()
        try:
            wait_until(
                lambda: v(samples(http_get(url)[1]), "bounce_worker_dead_letters_waiting") == 1
                and v(samples(http_get(url)[1]), "bounce_worker_entries", channel="email",
                      scope="global", state="temporarily_blocked") == 1,
            )  # fmt: skip
            # The nightly unlock, sent as an operator would: the expired block is lifted.
            called = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "bounce_worker.celery_app", "call",
                 "bounce_worker.unlock_expired"], capture_output=True, text=True, cwd=REPO,
            )  # fmt: skip
            assert called.returncode == 0, called.stderr
            wait_until(lambda: v(samples(http_get(url)[1]), "bounce_worker_job_rows_total",
                                 job="bounce_worker.unlock_expired") == 1)  # fmt: skip
        finally:
            worker.stop()
        after = samples(http_get(url)[1])
    finally:
        exporter.stop()

    def transitions(scope: str, to_state: str, reason: str) -> float | None:
        return v(
            after,
            "bounce_worker_transitions_total",
            channel="email",
            scope=scope,
            to_state=to_state,
            reason=reason,
        )

    assert transitions("global", "blocked", "hard_bounce") == 1
    assert transitions("organization", "blocked", "complaint") == 1
    assert transitions("global", "temporarily_blocked", "mailbox_full") == 1
    assert v(after, "bounce_worker_dead_letters_total", kind="event") == 1
    for scope in ("global", "organization"):
        assert v(after, "bounce_worker_entries", channel="email", scope=scope, state="blocked") == 1
    assert v(after, "bounce_worker_queue_depth", queue=worker_env_queue()) == 0
    assert v(after, "bounce_worker_entries", channel="email", scope="global", state="active") == 1
    assert v(after, "bounce_worker_entries", channel="email", scope="global",
             state="temporarily_blocked") is None  # fmt: skip
    ran_at = v(after, "bounce_worker_job_last_success_timestamp_seconds",
               job="bounce_worker.unlock_expired")  # fmt: skip
    assert ran_at is not None and abs(ran_at - time.time()) < 120

    lines = [json.loads(x) for x in worker.log.read_text().splitlines() if x.startswith("{")]
    moves = [x for x in lines if x["logger"] == "bounce_worker.transitions"]
    dead = [x for x in lines if x["logger"] == "bounce_worker.dead_letters"]
    assert sorted((x["event_id"], x["to_state"], x["reason"]) for x in moves) == [
        ("obs-1", "blocked", "hard_bounce"),
        ("obs-2", "blocked", "complaint"),
        ("obs-3", "temporarily_blocked", "mailbox_full"),
    ]
    assert all(x["task_name"] == "bounce_worker.process_event" and x["task_id"] for x in moves)
    assert [(x["kind"], x["reason"].split(":")[0]) for x in dead] == [("event", "not valid JSON")]
    # Bodies stay out of the log: no diagnostics, no raw payload.
    text = worker.log.read_text()
    assert "secret-diagnostic" not in text and "broken" not in text
    assert len(moves) == len(EVENTS)


def worker_env_queue() -> str:
    from bounce_worker.config import settings

    return settings().queue


def test_scrape_bench_smoke_run(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "bench/metrics_scrape.py", "--entries", "100", "--scrapes", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("scrape of 100 entries (")
