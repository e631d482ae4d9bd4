"""Fault-injection helpers: event feeds whose outcome does not depend on processing order,
database snapshots to compare runs, a second database for the clean reference run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, func, select

from bounce_worker.store.db import get_engine
from bounce_worker.store.snapshot import snapshot as store_snapshot
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import REPO, temporary_database, wait_until

BASE = datetime(2026, 11, 1, tzinfo=UTC)


def instant(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def mixed_events(n: int, prefix: str = "f") -> list[dict[str, Any]]:
    """`n` events of every type. No two events touch one entry in an order-sensitive way
    (one suppression per key; the ladder and the recorded-only rules depend on order, so
    those get an address each), so any processing order, and any redelivery pattern, must
    end in the same database as a clean sequential run."""
    kinds = ("hard", "complaint", "unsubscribe", "full", "soft", "delivered", "policy")
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        user = f"u{i // len(kinds) % 1500}@d{i % 37}.example"
        org = f"org{i % 11}"
        at = instant(BASE + timedelta(minutes=i))
        e: dict[str, Any] = {"event_id": f"{prefix}-{i}", "recipient": user, "occurred_at": at}
        if kind == "hard":
            e |= {"type": "bounce", "status": "5.1.1", "recipient": f"gone{i}@d{i % 37}.example"}
        elif kind == "complaint":
            e |= {"type": "complaint", "organization": org, "feedback_type": "abuse"}
        elif kind == "unsubscribe":
            e |= {"type": "unsubscribe", "organization": org, "list": f"list{i % 3}"}
        elif kind == "full":
            # distinct addresses: the ladder depends on order, so one error per address here
            e |= {"type": "bounce", "status": "5.2.2", "recipient": f"full{i}@d{i % 37}.example"}
        elif kind == "soft":
            e |= {"type": "bounce", "status": "4.4.1", "organization": f"soft{i % 5000}"}
        elif kind == "delivered":
            e |= {"type": "delivered", "recipient": f"ok{i}@d{i % 37}.example"}
        else:
            e |= {"type": "bounce", "status": "5.7.1", "recipient": f"pol{i}@d{i % 37}.example"}
        out.append(e)
    return out


def write_feed(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def count(engine: Engine, model: type) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def snapshot(engine: Engine) -> dict[str, Counter[tuple[Any, ...]]]:
    """store.snapshot as multisets: concurrent workers may write one entry's transitions in
    another order than the clean sequential run; the set of them, each once, must match."""
    return {table: Counter(rows) for table, rows in store_snapshot(engine).items()}


@pytest.fixture
def reference_url(run_id: str) -> Iterator[str]:
    """A second, empty, migrated database for the clean reference run."""
    yield from temporary_database(f"bw_test_{run_id}_ref_{uuid.uuid4().hex[:4]}")


def queue_drained(redis_url: str, queue: str) -> bool:
    """Nothing waiting and nothing delivered-but-unacknowledged (see celeryconfig)."""
    return queue_state(redis_url, queue) == (0, 0, 0)


def queue_state(redis_url: str, queue: str) -> tuple[int, int, int]:
    """(messages waiting, delivered but not acknowledged, taken but not yet recorded)."""
    r = redis.Redis.from_url(redis_url)
    return r.llen(queue), r.hlen(f"{queue}.unacked"), r.llen(f"{queue}.inflight")


def cleanup_queue(redis_url: str, queue: str) -> None:
    r = redis.Redis.from_url(redis_url)
    r.delete(
        queue,
        f"{queue}.inflight",
        f"{queue}.unacked",
        f"{queue}.unacked_index",
        f"{queue}.unacked_mutex",
    )


def spawn_cli(args: list[str], **env: str) -> subprocess.Popen[str]:
    """The real console script in the background, with the current environment plus `env`."""
    return subprocess.Popen(
        [sys.executable, "-m", "bounce_worker.cli", *args],
        env=os.environ | env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(done: Callable[[], bool], timeout: float, describe: Callable[[], str]) -> None:
    """wait_until, with the state of things in the message when it times out."""
    try:
        wait_until(done, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"not done within {timeout}s: {describe()}") from None


def assert_same_as_reference(engine: Engine, reference_url: str) -> dict[str, Counter[Any]]:
    """The database after the faults equals the clean run's, table by table; returns it."""
    got, want = snapshot(engine), snapshot(get_engine(reference_url))
    for table in want:
        assert got[table] == want[table], f"{table} differs from the clean run"
    return got
