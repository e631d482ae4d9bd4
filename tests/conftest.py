"""Shared fixtures. Services are real: PostgreSQL and Redis on this machine.

Each pytest run gets its own PostgreSQL database and its own queue name, so runs (and
parallel developers) never see each other's rows or messages. A missing service is an
error, never a skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import Engine, text

from bounce_worker.config import settings
from bounce_worker.store.db import get_engine
from bounce_worker.store.migrate import upgrade

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO = Path(__file__).resolve().parents[1]
TABLES = ("transitions", "entries", "processed_events", "dead_letters", "deliveries")
TABLES += ("recalculation_stats",)  # nightly jobs (migration 0002)
TABLES += ("api_keys", "audit_log")  # identity at the HTTP API (migration 0004)
TABLES += ("contact_links",)  # one person's addresses across channels (migration 0007)


def _service_error(what: str, exc: Exception) -> None:
    pytest.fail(f"{what} is required for this test and is not reachable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def run_id() -> str:
    return f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def pg_url(run_id: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this pytest run."""
    yield from temporary_database(f"bw_test_{run_id}")


def temporary_database(name: str) -> Iterator[str]:
    """Create and migrate database `name`, yield its URL, drop it afterwards."""
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        _service_error("PostgreSQL", exc)
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    get_engine(url).dispose()
    # A new connection: the fault tests restart PostgreSQL, which ends every old one.
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_pg_url(run_id: str) -> Iterator[str]:
    """A PostgreSQL database with no schema at all (never migrated), dropped afterwards."""
    name = f"bw_test_{run_id}_empty_{uuid.uuid4().hex[:4]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        _service_error("PostgreSQL", exc)
    yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    get_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}").dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        _service_error("Redis", exc)
    return REDIS_URL


def truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = get_engine(pg_url)
    truncate(engine)
    yield engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/bw.sqlite3"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return get_engine(request.getfixturevalue("sqlite_url"))
    return request.getfixturevalue("pg_engine")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A clean BOUNCE_WORKER_* environment for in-process CLI calls and subprocesses."""
    for key in list(os.environ):
        if key.startswith("BOUNCE_WORKER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("BOUNCE_WORKER_HOME", str(tmp_path / "home"))
    settings.cache_clear()
    yield os.environ  # type: ignore[misc]
    settings.cache_clear()


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"BOUNCE_WORKER_{key.upper()}", value)
    settings.cache_clear()


def run_cli(
    *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real console script, in a subprocess, with the current environment."""
    return subprocess.run(
        [sys.executable, "-m", "bounce_worker.cli", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        cwd=REPO,
    )


def run_refused_worker(timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`celery worker` as a user starts it, for a start that must be refused (it returns
    once the process has exited)."""
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "bounce_worker.celery_app", "worker"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


class Worker:
    """A real `celery worker` process, started as a user would."""

    def __init__(self, extra_args: list[str] | None = None, concurrency: int = 2) -> None:
        self.log = (
            Path(os.environ.get("BOUNCE_WORKER_HOME", "/tmp"))
            / f"worker-{uuid.uuid4().hex[:6]}.log"
        )
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bounce_worker.celery_app",
            "worker",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"test-{uuid.uuid4().hex[:6]}@%h",
            *(extra_args or []),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 60) -> Worker:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.args, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text(errors="replace"):
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {wait}s: {self.log.read_text()[-2000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (main process and pool children)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_env(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    pg_engine: Engine,
    pg_url: str,
    redis_url: str,
    run_id: str,
) -> Engine:
    """Environment for a real worker on Redis + PostgreSQL, with this run's own queue."""
    queue = f"bw-test-{run_id}-{uuid.uuid4().hex[:6]}"
    set_env(monkeypatch, database_url=pg_url, broker_url=redis_url, queue=queue)
    yield pg_engine
    redis.Redis.from_url(redis_url).delete(queue)


@pytest.fixture
def worker(worker_env: Engine) -> Iterator[Worker]:
    w = Worker().start()
    yield w
    w.stop()


def wait_until(predicate, timeout: float = 60, interval: float = 0.2) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
