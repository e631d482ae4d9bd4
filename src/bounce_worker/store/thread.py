"""Database work in one other thread, in the order given, while this thread prepares more.

The import check fetches chunks' entries this way while it reads the next ones, and
`process` writes a batch while it decodes and plans the next. A thread that waits on the
database (on PostgreSQL's reply, on SQLite's own work) does so without the GIL, so the
two overlap on two cores.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.pool import SingletonThreadPool

T = TypeVar("T")
SWITCH_INTERVAL = 0.0005  # seconds; see database_thread


class Submit(Protocol):
    def __call__(self, fn: Callable[..., T], /, *args: Any) -> Future[T]: ...


@contextmanager
def database_thread(engine: Engine) -> Iterator[Submit]:
    """Yields `submit(fn, *args) -> Future`: `fn` runs in one background thread, each
    call after the one submitted before it. Once one fails, those queued behind it do not
    run (their futures raise CancelledError): a write must not overtake a failed one.

    The background thread takes the GIL back several times per query (each reply, each
    SQLite row), and at Python's default 5 ms switch interval each time waits for this
    busy thread to let go: a 20 ms query took 34 ms and this thread waited on it. A 0.5 ms
    interval, while the work runs, cut the import check's wall time on PostgreSQL by a
    tenth."""
    if isinstance(engine.pool, SingletonThreadPool):  # one connection per thread (:memory:)
        yield _run_now
        return
    failed = threading.Event()

    def in_turn(fn: Callable[..., T], *args: Any) -> T:
        if failed.is_set():
            raise CancelledError("an earlier piece of database work failed")
        try:
            return fn(*args)
        except BaseException:
            failed.set()
            raise

    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="database") as pool:
            try:
                yield lambda fn, *args: pool.submit(in_turn, fn, *args)
            except BaseException:
                failed.set()  # left early, on an error here: run nothing still queued
                raise
    finally:
        sys.setswitchinterval(previous)


def _run_now(fn: Callable[..., T], *args: Any) -> Future[T]:
    done: Future[T] = Future()
    done.set_result(fn(*args))
    return done
