"""What every nightly job shares: typed SQL, the run lock, id-range chunks, progress, results.

Memory stays flat because rows never come to Python: each batch is one statement (or two on
SQLite) that the database runs over at most `batch_size` rows, in its own transaction.
"""

from __future__ import annotations

import functools
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection, Engine, TextClause, bindparam, text

from bounce_worker.store.models import UTCDateTime

log = logging.getLogger("bounce_worker.jobs")

INSTANTS = ("now", "cutoff", "after", "upper", "stale_before")
Item = TypeVar("Item")
Out = TypeVar("Out")
Params = ParamSpec("Params")


def sql(statement: str) -> TextClause:
    """Typed binding: an instant is written the way the column stores it on each database."""
    names = [n for n in INSTANTS if f":{n}" in statement]
    return text(statement).bindparams(*(bindparam(n, type_=UTCDateTime()) for n in names))


class Progress(Protocol):
    """Told about each batch; the CLI draws a bar with it, tasks pass nothing."""

    def start(self, step: str, total: int | None) -> None: ...

    def advance(self, done: int) -> None: ...


@dataclass
class JobResult:
    job: str
    rows: int = 0  # the job's headline figure (unlocked, groups stored, counts reset...)
    batches: int = 0
    skipped: bool = False  # another run held the lock
    details: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "rows": self.rows,
            "batches": self.batches,
            "skipped": self.skipped,
            **self.details,
        }


def _lock_key(job: str) -> int:
    # A stable 63-bit key per job, in a namespace of our own ("bw" in the high bytes), so it
    # does not collide with advisory locks other software takes in the same database.
    return (0x6277 << 48) | zlib.crc32(job.encode())


@contextmanager
def job_lock(engine: Engine, job: str) -> Iterator[bool]:
    """True when this process may run `job`: a PostgreSQL session advisory lock held on a
    connection of its own for the whole run (the batches commit on other connections).
    The lock dies with the connection, so a killed run never leaves it behind.
    SQLite: always True; its single writer lock already serializes every batch."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = _lock_key(job)
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()  # do not sit idle in a transaction while the job runs
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One batch's transaction (committed if `write`; a read on SQLite then takes no write
    lock). On PostgreSQL, JIT is off: the planner rates the correlated subqueries as costly
    and compiles them, which took 160 ms of a 480 ms batch. A batch's commit does not wait
    for its WAL flush either: every job is re-runnable, so a batch lost in a server crash is
    simply done again by the next run (never half-applied: the transaction is atomic)."""
    with engine.begin() if write else engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL jit = off"))
            if write:
                conn.execute(text("SET LOCAL synchronous_commit = off"))
        yield conn


Job = Callable[Concatenate[Engine, Params], JobResult]


def locked(job: str) -> Callable[[Job[Params]], Job[Params]]:
    """Run the decorated job `fn(engine, ...)` under `job_lock`; a run that finds the lock
    taken does nothing and says so (skipped=True)."""

    def wrap(fn: Job[Params]) -> Job[Params]:
        @functools.wraps(fn)
        def run(engine: Engine, *args: Params.args, **kwargs: Params.kwargs) -> JobResult:
            with job_lock(engine, job) as acquired:
                if acquired:
                    return fn(engine, *args, **kwargs)
            log.warning("%s: another run holds the lock; skipped", job, extra={"job": job})
            return JobResult(job, skipped=True)

        return run

    return wrap


def id_chunks(conn: Connection, table: str, size: int) -> tuple[int, list[tuple[int, int]]]:
    """Half-open id ranges [lo, hi) covering `table`, and their total width (for progress).
    Walking the primary key in ranges reads every row once, however many match."""
    # Two scalar subqueries: each is one primary-key lookup (SQLite scans for MIN and MAX
    # asked together).
    ends = f"SELECT (SELECT MIN(id) FROM {table}), (SELECT MAX(id) FROM {table})"
    lo, hi = conn.execute(text(ends)).one()
    if lo is None:
        return 0, []
    return hi + 1 - lo, [(s, min(s + size, hi + 1)) for s in range(lo, hi + 1, size)]


def count(engine: Engine, statement: TextClause, params: dict[str, Any]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(statement, params).scalar() or 0)


def run_batches(
    engine: Engine,
    work: Callable[[Item], Out],
    items: Iterable[Item],
    done: Callable[[Out], None],
    workers: int = 1,
) -> None:
    """`work` on every item (each its own transaction), `workers` at a time on PostgreSQL:
    the items are disjoint id ranges, so parallel batches never touch the same row and the
    job uses more than one core of the database. `done` sees each result, in order, on the
    calling thread. SQLite has a single writer: one at a time."""
    if workers <= 1 or engine.dialect.name != "postgresql":
        for item in items:
            done(work(item))
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="bounce-worker-job") as pool:
        for out in pool.map(work, items):
            done(out)
