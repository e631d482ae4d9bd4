"""`bounce-worker process` streams its input through the one writer: the bar on a terminal,
the summary on stdout, and bench/backfill.py's smoke run (process beside the worker's
batched path, same final database)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlalchemy import select as sql_select

from bounce_worker.store.models import DeadLetterRow, ProcessedEventRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import REPO, run_cli, set_env


def feed(path: Path, events: int) -> Path:
    lines = [
        json.dumps({"event_id": f"p-{n}", "type": "bounce", "status": "4.4.1",
                    "recipient": f"u{n % 50}@example.org", "organization": "acme",
                    "occurred_at": f"2026-11-{1 + n % 28:02d}T10:00:00Z"})
        for n in range(events)
    ]  # fmt: skip
    lines.insert(events // 2, "{broken")
    path.write_text("\n".join(lines) + "\n")
    return path


def count(engine: Engine, model: type) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.scalar(sql_select(func.count()).select_from(model)) or 0


def test_process_applies_in_batches_and_keeps_the_bad_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, pg_url: str, pg_engine: Engine,
    tmp_path: Path,
) -> None:  # fmt: skip
    set_env(monkeypatch, database_url=pg_url)
    path = feed(tmp_path / "history.jsonl", 1200)
    done = run_cli("process", "--batch-size", "100", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "applied 1200, duplicates 0, dead-lettered 1"
    assert count(pg_engine, ProcessedEventRow) == 1200 and count(pg_engine, DeadLetterRow) == 1
    with UnitOfWork(pg_engine) as uow:
        dead = uow.session.scalars(sql_select(DeadLetterRow)).one()
    assert dead.source == f"{path}:601" and dead.payload == b"{broken"
    again = run_cli("process", str(path))
    assert again.stdout.strip() == "applied 0, duplicates 1200, dead-lettered 1"


def test_process_shows_a_progress_bar_on_a_terminal(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, pg_url: str, pg_engine: Engine,
    tmp_path: Path,
) -> None:  # fmt: skip
    set_env(monkeypatch, database_url=pg_url)
    path = feed(tmp_path / "history.jsonl", 3000)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bounce_worker.cli", "process", "--batch-size", "100", str(path)],
        stdout=subprocess.PIPE, stderr=slave, cwd=REPO,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )  # fmt: skip
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    assert proc.returncode == 0
    assert out.decode().strip() == "applied 3000, duplicates 0, dead-lettered 1"
    text = shown.decode("utf-8", "replace")
    assert "process" in text and "events/s" in text and " events, " in text


def test_backfill_bench_smoke() -> None:
    done = subprocess.run(
        [sys.executable, "bench/backfill.py", "--events", "2000", "--concurrency", "1"],
        capture_output=True, text=True, cwd=REPO, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(p) process, 500 events/transaction" in done.stdout
    assert "(w) worker, 1 processes, batches of 500" in done.stdout
    assert "same final database: " in done.stdout
