"""Throughput on the real broker and database, side by side, in one run.

    python bench/throughput.py [--events 50000] [--batch-size 500] [--concurrency 2]

(a) Celery no-op tasks, one event per message: the framework's ceiling on this machine.
(b) bounce_worker.process_event, one event per message.
(c) bounce_worker.process_batch, --batch-size events per message.

Each phase publishes everything first (not timed), then starts a real worker
(`celery -A bounce_worker.celery_app worker`) on a queue of its own and times the drain:
from the worker's "ready." line until the queue is empty (a) or until the database holds
every event and dead letter (b, c). Phases (b) and (c) get fresh databases, and their final
state is compared with a reference run of the same events one by one through the tests'
reference writer (tests/reference.py) in this process: the exit status is 1 if any event
is lost, applied twice, or has another effect than the reference's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BROKER = os.environ.get("BOUNCE_WORKER_BROKER_URL") or "redis://127.0.0.1:6379/0"
SERVER = (
    os.environ.get("BOUNCE_WORKER_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
)
os.environ["BOUNCE_WORKER_BROKER_URL"] = BROKER  # read by celeryconfig at import

import psycopg  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import Engine, select  # noqa: E402

from bounce_worker.store.db import get_engine, normalize_url  # noqa: E402
from bounce_worker.store.migrate import upgrade  # noqa: E402
from bounce_worker.store.models import (  # noqa: E402
    DeadLetterRow,
    ProcessedEventRow,
)
from bounce_worker.store.snapshot import snapshot  # noqa: E402

# -- the workload -------------------------------------------------------------------------

# (weight, event fields): roughly what a large sender's feedback looks like.
MIX: list[tuple[int, dict[str, Any]]] = [
    (
        12,
        {
            "type": "bounce",
            "status": "5.1.1",
            "smtp_code": 550,
            "diagnostic": "550 5.1.1 user unknown",
        },
    ),
    (3, {"type": "bounce", "smtp_code": 550, "diagnostic": "550 mailbox does not exist"}),
    (
        7,
        {
            "type": "bounce",
            "status": "5.2.2",
            "smtp_code": 552,
            "diagnostic": "552 5.2.2 mailbox full",
        },
    ),
    (
        3,
        {
            "type": "bounce",
            "status": "4.2.2",
            "smtp_code": 452,
            "diagnostic": "452 4.2.2 over quota",
        },
    ),
    (
        14,
        {"type": "bounce", "status": "4.4.1", "smtp_code": 451, "diagnostic": "451 4.4.1 timeout"},
    ),
    (6, {"type": "bounce", "status": "4.7.1", "smtp_code": 421, "diagnostic": "421 greylisted"}),
    (4, {"type": "bounce", "status": "5.7.1", "smtp_code": 550, "diagnostic": "550 5.7.1 spam"}),
    (5, {"type": "complaint", "feedback_type": "abuse"}),
    (8, {"type": "unsubscribe"}),
    (2, {"type": "unsubscribe", "list": "newsletter"}),
    (35, {"type": "delivered"}),
    (1, {"type": "opt_in"}),
]
SPAN = timedelta(days=90)  # the feed covers a quarter: blocks expire, ladders climb


def workload(n: int, seed: int = 7) -> tuple[list[Any], int, int]:
    """(items in publish order, distinct event ids, invalid items).

    About four events per address (n/4 addresses), each address's events n/4 positions
    apart in the feed, so concurrent workers never hold two events of one address at once
    and the result is comparable with a sequential reference. 0.5% of the items are copies
    of earlier events (redeliveries), 0.2% are invalid (dead-lettered).
    """
    import random

    rng = random.Random(seed)
    addresses = max(4, n // 4)
    names = [f"user{i}.{rng.choice('abcdefgh')}@{rng.choice(DOMAINS)}" for i in range(addresses)]
    order = rng.sample(range(addresses), addresses)
    weights = [w for w, _ in MIX]
    start = datetime(2026, 8, 1, tzinfo=UTC)
    items: list[Any] = []
    ids = invalid = 0
    for i in range(n):
        address = order[i % addresses]
        roll = rng.random()
        if roll < 0.002:
            items.append({"event_id": f"bad-{i}", "type": "bounce", "recipient": "not an address"})
            invalid += 1
        elif roll < 0.007 and i >= addresses and "source" in items[i - addresses]:
            items.append(items[i - addresses])  # a redelivery; same address, spacing holds
        else:
            (fields,) = rng.choices([f for _, f in MIX], weights)
            items.append(
                {
                    **fields,
                    "event_id": f"mta-{i % 7}:{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}",
                    "recipient": names[address],
                    "organization": f"org-{address % 40}" if address % 9 else f"org-{i % 40}",
                    "occurred_at": (start + SPAN * i / n).isoformat().replace("+00:00", "Z"),
                    "source": "postfix",
                }
            )
            ids += 1
    return items, ids, invalid


DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "web.de", "example.org", "acme.co.uk"]


# -- the final state, comparable across runs and databases --------------------------------


def reference(items: list[Any]) -> dict[str, list[Any]]:
    """The same events one by one through the tests' reference, in this process (SQLite)."""
    from bounce_worker.config import settings

    sys.path.insert(0, str(REPO))
    from tests.reference import process_payload

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/reference.sqlite3"
        upgrade(url)
        engine = get_engine(url)
        policy = settings().policy
        now = datetime.now(UTC)
        for item in items:
            process_payload(engine, item, source="reference", policy=policy, now=now)
        state = snapshot(engine)
        engine.dispose()
        return state


# -- services: a fresh database and queue per phase --------------------------------------


@contextmanager
def fresh_database(tag: str) -> Iterator[str]:
    admin = normalize_url(SERVER).replace("postgresql+psycopg://", "postgresql://", 1)
    if not admin.startswith("postgresql://"):
        raise SystemExit("bench: BOUNCE_WORKER_DATABASE_URL must point at PostgreSQL")
    name = f"bw_bench_{os.getpid()}_{tag}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Worker:
    """`celery -A bounce_worker.celery_app worker`, as a user starts it, on one queue."""

    def __init__(self, queue: str, database: str, concurrency: int, log: Path) -> None:
        self.log = log
        self.env = {
            **os.environ,
            "BOUNCE_WORKER_BROKER_URL": BROKER,
            "BOUNCE_WORKER_DATABASE_URL": database,
            "BOUNCE_WORKER_QUEUE": queue,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        self.args = [sys.executable, "-m", "celery", "-A", "bounce_worker.celery_app", "worker"]
        self.args += ["-I", "celery_noop", "--concurrency", str(concurrency), "-l", "INFO"]
        self.args += ["--without-gossip", "--without-mingle", "-n", f"bench-{queue}@%h"]

    def start(self) -> float:
        """Start it; returns the monotonic time its "ready." line appeared."""
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return time.monotonic()
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: worker exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.01)
        raise SystemExit(f"bench: worker not ready in 120s:\n{self.log.read_text()[-3000:]}")

    def rss(self) -> int:
        """Resident memory of the worker and its pool processes, bytes (from /proc)."""
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) * 1024  # type: ignore[union-attr]
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, AttributeError):
                continue  # exited meanwhile
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


def drain(worker: Worker, done: Callable[[], bool], timeout: float) -> tuple[float, int]:
    """(seconds from ready to done, peak RSS) with the queue already full."""
    peak = 0
    ready = worker.start()
    deadline = ready + timeout
    while not done():
        peak = max(peak, worker.rss())
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: not drained in {timeout:.0f}s; log: {worker.log}")
        if worker.proc.poll() is not None:
            raise SystemExit(f"bench: worker died:\n{worker.log.read_text()[-3000:]}")
        time.sleep(0.02)
    return time.monotonic() - ready, max(peak, worker.rss())


def publish_cli(items: list[Any], queue: str, database: str, batch_size: int, tmp: Path) -> None:
    """`bounce-worker publish --batch-size N` on a JSON Lines file, as an operator would."""
    import json

    feed = tmp / "feed.jsonl"
    feed.write_text("".join((json.dumps(i) if not isinstance(i, str) else i) + "\n" for i in items))
    env = {**os.environ, "BOUNCE_WORKER_DATABASE_URL": database, "BOUNCE_WORKER_QUEUE": queue}
    cmd = [sys.executable, "-m", "bounce_worker.cli", "publish", "--batch-size", str(batch_size)]
    done = subprocess.run([*cmd, str(feed)], env=env, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"bench: publish failed: {done.stderr.strip()}")


def count(engine: Engine, model: type) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


# -- the run ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per phase (50000)")
    parser.add_argument("--batch-size", type=int, default=500, help="events per message in (c)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    if args.events < 10 or args.batch_size < 1 or args.concurrency < 1:
        parser.error("--events must be at least 10, --batch-size and --concurrency at least 1")

    items, ids, invalid = workload(args.events)
    broker = redis.Redis.from_url(BROKER)
    run = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    timeout = max(600.0, args.events / 20)
    rows: list[tuple[str, int, float, int]] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bw-bench-") as tmp_name:
        tmp = Path(tmp_name)

        # (a) the ceiling: no-op tasks carrying the same payloads.
        from bounce_worker.celery_app import app

        queue = f"bw-bench-{run}-a"
        try:
            with app.producer_or_acquire() as producer:
                for item in items:
                    app.send_task("bench.noop", (item,), queue=queue, producer=producer)
            worker = Worker(queue, SERVER, args.concurrency, tmp / "worker-a.log")
            try:
                seconds, peak = drain(worker, lambda: broker.llen(queue) == 0, timeout)
            finally:
                worker.stop()
            rows.append(("(a) celery no-op, 1 event/message", len(items), seconds, peak))
        finally:
            broker.delete(queue)

        # (b) and (c): our pipeline, one per message and batched.
        for tag, size in (("b", 1), ("c", args.batch_size)):
            queue = f"bw-bench-{run}-{tag}"
            with fresh_database(tag) as url:
                try:
                    publish_cli(items, queue, url, size, tmp)
                    engine = get_engine(url)
                    worker = Worker(queue, url, args.concurrency, tmp / f"worker-{tag}.log")
                    try:
                        seconds, peak = drain(
                            worker,
                            # Redis first: the database is polled only for the last
                            # few messages, so polling does not steal the workers' CPU.
                            lambda e=engine, q=queue: (
                                broker.llen(q) == 0
                                and count(e, ProcessedEventRow) >= ids
                                and count(e, DeadLetterRow) >= invalid
                            ),
                            timeout,
                        )
                    finally:
                        worker.stop()
                    messages = -(-len(items) // size)
                    task = "process_event" if size == 1 else "process_batch"
                    label = f"({tag}) {task}, {size} event(s)/message"
                    rows.append((label, messages, seconds, peak))
                    failures += check(tag, snapshot(engine), ids, invalid, items)
                finally:
                    broker.delete(queue)

    report(args, rows, len(items))
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


_REFERENCE: dict[str, Any] = {}


def check(
    tag: str, state: dict[str, list[Any]], ids: int, invalid: int, items: list[Any]
) -> list[str]:
    """Every event id once, every bad item dead-lettered once, the reference's effects."""
    if "state" not in _REFERENCE:
        _REFERENCE["state"] = reference(items)
    expected = _REFERENCE["state"]
    problems = []
    if len(state["processed"]) != ids:
        problems.append(f"({tag}) {len(state['processed'])} event ids processed, expected {ids}")
    if len(state["dead"]) != invalid:
        problems.append(f"({tag}) {len(state['dead'])} dead letters, expected {invalid}")
    for table in ("processed", "entries", "transitions", "deliveries", "dead"):
        if state[table] != expected[table]:
            extra = len(set(state[table]) - set(expected[table]))
            missing = len(set(expected[table]) - set(state[table]))
            problems.append(
                f"({tag}) {table} differ from the in-process reference: "
                f"{missing} missing, {extra} unexpected, {len(state[table])} rows"
            )
    if not problems:
        print(
            f"({tag}) verified: {ids} event ids each applied once, {invalid} dead letters, "
            f"{len(state['entries'])} entries and {len(state['transitions'])} transitions "
            "equal to the in-process reference"
        )
    return problems


def report(args: argparse.Namespace, rows: list[tuple[str, int, float, int]], n: int) -> None:
    print(
        f"\nthroughput: {n} events, {args.concurrency} worker processes (prefork), "
        f"Redis + PostgreSQL, {os.cpu_count()} CPUs"
    )
    print(f"{'':38} {'messages':>9} {'seconds':>8} {'events/s':>9} {'peak RSS':>9}")
    rate = {}
    for label, messages, seconds, peak in rows:
        rate[label[1]] = n / seconds
        print(
            f"{label:38} {messages:>9} {seconds:>8.1f} {n / seconds:>9.0f} {peak / 2**20:>6.0f} MiB"
        )
    if "a" in rate:
        for tag in ("b", "c"):
            if tag in rate:
                print(f"{tag}/a = {rate[tag] / rate['a']:.2f}", end="   ")
        print()


if __name__ == "__main__":
    sys.exit(main())
