"""bench/jobs.py runs end to end with a tiny N; the Celery tasks run the jobs in a real
worker on Redis + PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys

import psycopg
import pytest
from sqlalchemy import Engine

from bounce_worker.jobs import latest_stats
from tests.conftest import PG_ADMIN, REPO, Worker, wait_until
from tests.integration.jobs_support import T0, entry, event, feed


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_bench_smoke(database: str) -> None:
    args = ["--rows", "500", "--batch-size", "64"]
    if database == "postgresql":
        args += ["--database-url", PG_ADMIN]
    run = subprocess.run(
        [sys.executable, "bench/jobs.py", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert f"bench/jobs.py: {database}, 500 entries (100 expired temporary blocks)" in out
    assert re.search(r"^unlock\s+100 rows in .* rows/s", out, re.M), out
    assert re.search(r"^recalculate\s+500 rows in .* rows/s", out, re.M), out
    assert re.search(r"^housekeeping\s+[\d,]+ rows in .* rows/s", out, re.M), out
    assert re.search(r"^peak memory\s+[\d.]+ MB", out, re.M), out
    if database == "postgresql":
        name = re.search(r"scratch database: \S+/(bw_bench_\w+)", out)
        assert name, out
        with psycopg.connect(PG_ADMIN) as conn:
            left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name[1]])
            assert left.fetchone() is None  # dropped


def test_nightly_tasks_run_in_a_real_worker(worker: Worker, worker_env: Engine) -> None:
    feed(worker_env, event("full", "due@example.org", T0))

    def send(*names: str) -> None:
        code = "from bounce_worker.celery_app import app\n" + "".join(
            f"app.send_task('bounce_worker.{name}')\n" for name in names
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=REPO)

    send("unlock_expired")
    wait_until(lambda: entry(worker_env, "due@example.org").state == "active")
    send("recalculate", "housekeeping")
    wait_until(lambda: bool(latest_stats(worker_env)))
    assert {(r.organization, r.channel, r.active) for r in latest_stats(worker_env)} == {
        ("", "email", 1)
    }
    # Like the unlock, each job returns the rows it wrote (an int the job metrics count).
    done = re.compile(
        r"Task bounce_worker\.housekeeping\[[^\]]+\] succeeded in [\d.]+s: \d+$", re.M
    )
    wait_until(lambda: bool(done.search(worker.log.read_text())))
