"""A backfill with `bounce-worker process`, beside the worker's batched path, same feed.

    python bench/backfill.py [--events 1000000] [--batch-size 500] [--concurrency 2] [--check]

(p) `bounce-worker process feed.jsonl` on a fresh PostgreSQL database, as an operator runs
    it: wall time from start to exit, events/s, the process's peak RSS (its own ru_maxrss,
    read by a small launcher: see LAUNCHER).
(w) the worker's batched path on the same feed: `bounce-worker publish --batch-size N`
    (not timed), then a real worker (`celery -A bounce_worker.celery_app worker`) timed from
    its "ready." line until every event id and dead letter is stored (bench/throughput.py's
    phase c), events/s, peak RSS of the worker and its pool processes.

The two final databases are compared table by table (store/snapshot.py): the exit status
is 1 when they differ, and with --check also when (p) misses its goals (at least 5,000
events/s, at most 300 MB peak RSS). The feed is bench/throughput.py's workload.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from throughput import (
    BROKER,
    REPO,
    Worker,
    count,
    drain,
    fresh_database,
    publish_cli,
    workload,
)

from bounce_worker.store.db import get_engine
from bounce_worker.store.models import DeadLetterRow, ProcessedEventRow
from bounce_worker.store.snapshot import Snapshot, snapshot

GOAL_RATE = 5_000  # events/s
GOAL_RSS = 300 * 2**20  # bytes


def write_feed(items: list[Any], path: Path) -> None:
    with path.open("w") as out:
        for item in items:
            out.write((item if isinstance(item, str) else json.dumps(item)) + "\n")


# A child's peak RSS (ru_maxrss) counts its parent's at exec: the kernel keeps the larger
# of the old and the new address space's high-water mark, and the old one is a copy of
# this bench, which holds the whole feed (~1 GB for 1,000,000 events). So `process` is
# started by a small launcher, whose own children's peak is the figure.
LAUNCHER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))
sys.exit(code)
"""


def run_process(feed: Path, database: str, batch_size: int) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, the summary line) of `bounce-worker process FEED`."""
    env = {**os.environ, "BOUNCE_WORKER_DATABASE_URL": database}
    cmd = [sys.executable, "-m", "bounce_worker.cli", "process", "--batch-size", str(batch_size)]
    out, err, peak = (feed.with_suffix(s) for s in (".out", ".err", ".peak"))
    launch = [sys.executable, "-c", LAUNCHER, str(peak)]
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        code = subprocess.call(
            [*launch, *cmd, str(feed)], env=env, cwd=REPO, stdout=stdout, stderr=stderr
        )
    seconds = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"bench: process failed: {err.read_text()[-3000:]}")
    return seconds, int(peak.read_text()), out.read_text().strip()


def run_worker(
    items: list[Any], database: str, batch_size: int, concurrency: int, tmp: Path, ids: int,
    invalid: int,
) -> tuple[float, int]:  # fmt: skip
    import redis

    queue = f"bw-backfill-{os.getpid()}"
    broker = redis.Redis.from_url(BROKER)
    try:
        publish_cli(items, queue, database, batch_size, tmp)
        engine = get_engine(database)
        worker = Worker(queue, database, concurrency, tmp / "worker.log")
        try:
            return drain(
                worker,
                lambda: (
                    broker.llen(queue) == 0
                    and count(engine, ProcessedEventRow) >= ids
                    and count(engine, DeadLetterRow) >= invalid
                ),
                max(600.0, len(items) / 20),
            )
        finally:
            worker.stop()
    finally:
        broker.delete(queue)


def differences(process: Snapshot, worker: Snapshot) -> list[str]:
    problems = []
    for table in ("processed", "entries", "transitions", "deliveries", "dead"):
        if process[table] != worker[table]:
            extra = len(set(process[table]) - set(worker[table]))
            missing = len(set(worker[table]) - set(process[table]))
            problems.append(
                f"{table} differ: process has {extra} rows the worker path has not, "
                f"and lacks {missing} of its rows"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events (1000000)")
    parser.add_argument("--batch-size", type=int, default=500, help="events per transaction")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.events < 10 or args.batch_size < 1 or args.concurrency < 1:
        parser.error("--events must be at least 10, --batch-size and --concurrency at least 1")

    items, ids, invalid = workload(args.events)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bw-backfill-") as tmp_name:
        tmp = Path(tmp_name)
        feed = tmp / "feed.jsonl"
        write_feed(items, feed)
        load = os.getloadavg()[0]
        with fresh_database("p") as url:
            p_seconds, p_peak, summary = run_process(feed, url, args.batch_size)
            processed = snapshot(get_engine(url))
        with fresh_database("w") as url:
            w_seconds, w_peak = run_worker(
                items, url, args.batch_size, args.concurrency, tmp, ids, invalid
            )
            worked = snapshot(get_engine(url))
    n = len(items)
    print(
        f"\nbackfill: {n} events ({ids} distinct ids, {invalid} invalid), PostgreSQL, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the start"
    )
    print(f"{'':44} {'seconds':>8} {'events/s':>9} {'peak RSS':>9}")
    for label, seconds, peak in (
        (f"(p) process, {args.batch_size} events/transaction", p_seconds, p_peak),
        (f"(w) worker, {args.concurrency} processes, batches of {args.batch_size}",
         w_seconds, w_peak),
    ):  # fmt: skip
        print(f"{label:44} {seconds:>8.1f} {n / seconds:>9.0f} {peak / 2**20:>6.0f} MiB")
    print(f"process said: {summary}")
    failures += differences(processed, worked)
    if not failures:
        print(
            f"same final database: {len(processed['processed'])} event ids, "
            f"{len(processed['entries'])} entries, {len(processed['transitions'])} transitions, "
            f"{len(processed['dead'])} dead letters on both paths"
        )
    goals = [
        (n / p_seconds >= GOAL_RATE, f"process {n / p_seconds:.0f} events/s < {GOAL_RATE}"),
        (p_peak <= GOAL_RSS, f"process peak RSS {p_peak / 2**20:.0f} MiB > 300 MiB"),
    ]
    for met, message in goals:
        print(("goal met: " if met else "goal MISSED: ") + message.split(" <")[0].split(" >")[0])
        if args.check and not met:
            failures.append(message)
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
