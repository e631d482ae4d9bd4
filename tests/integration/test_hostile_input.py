"""Hostile mails through the real path: `bounce-worker pipe` onto Redis, a real worker,
PostgreSQL. An oversized mail never travels whole and is kept truncated with its size and
digest; the bench's worker run (bench/hostile.py) works on small mails."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bounce_worker import limits
from bounce_worker.store.models import DeadLetterRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import REPO, Worker, run_cli, set_env, wait_until


def _letters(engine: Engine) -> list[DeadLetterRow]:
    with UnitOfWork(engine) as uow:
        return list(uow.session.scalars(select(DeadLetterRow)))


def test_oversized_mail_is_dead_lettered_truncated_with_size_and_digest(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, max_message_bytes="4096")
    raw = b"From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\n\n" + b"x" * 100_000
    piped = run_cli("pipe", input=raw.decode())
    assert piped.returncode == 0, piped.stderr
    small = b"From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\n\nnobody\n"
    assert run_cli("pipe", input=small.decode()).returncode == 0
    worker = Worker(concurrency=1).start()
    try:
        wait_until(lambda: len(_letters(worker_env)) == 2, timeout=90)
    finally:
        worker.stop()
    (big,) = [d for d in _letters(worker_env) if "sha256" in d.reason]
    assert bytes(big.payload) == raw[: limits.kept(4096)]
    assert f"payload of {len(raw)} bytes" in big.reason
    assert hashlib.sha256(raw).hexdigest() in big.reason


def test_bench_smoke_run_through_a_real_worker(worker_env: Engine) -> None:
    out = subprocess.run(
        [
            *(sys.executable, str(REPO / "bench" / "hostile.py"), "--scale", "0.01"),
            *("--check", "--only", "recipients", "--only", "huge"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=Path(REPO),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    worker_lines = out.stdout.split("through a real worker")[1].splitlines()
    assert sum(" s CPU " in ln for ln in worker_lines) == 4
    assert "dead letter: mail names more than 100 recipients" in out.stdout
