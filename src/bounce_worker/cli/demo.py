"""`bounce-worker demo`: the main job on the embedded default, end to end.

Publishes a feed of events (the sample shipped with the package by default), starts a real
Celery worker with beat as a subprocess, waits until every event is in the database, stops
the worker, and prints the resulting suppressions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import func, select

from bounce_worker import api, service
from bounce_worker.cli.common import CliError, engine, output_console
from bounce_worker.cli.events import read_lines, run_publish
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain.events import InvalidEvent, format_instant, parse_instant
from bounce_worker.store.models import DeadLetterRow, ProcessedEventRow
from bounce_worker.store.uow import UnitOfWork

SAMPLE = files("bounce_worker") / "samples" / "events.jsonl"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="run a real worker + beat on a feed of events and print the suppressions",
        description="Publish FEED (default: the bundled sample), run a Celery worker with "
        "beat until every event is stored, then print the suppressions.",
    )
    parser.add_argument("feed", nargs="?", help="JSON Lines feed (default: bundled sample)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (120)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the feed's counts and the suppressions as one JSON object",
    )
    parser.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    # The bundled sample is dated relative to today: its newest event an hour ago, so a
    # temporary block it causes is shown running, never "until" a date already past.
    feed = args.feed or str(dated_sample(settings().home, utcnow()))
    eng = engine()
    ids, bad = expected(feed)
    with UnitOfWork(eng) as uow:
        dead_before = uow.session.scalar(select(func.count()).select_from(DeadLetterRow)) or 0
        stored_before = stored_count(uow, ids)
    with contextlib.redirect_stdout(sys.stderr if args.json else sys.stdout):
        run_publish(argparse.Namespace(files=[feed]))
    log_path = settings().home / "demo-worker.log"
    log = log_path.open("ab")
    worker = subprocess.Popen(
        [
            sys.executable,
            # Celery's warning about running as root is not the demo's story.
            "-W",
            "ignore:You're running the worker with superuser privileges",
            "-m",
            "celery",
            "--quiet",  # no banner: the demo prints its own summary
            "-A",
            "bounce_worker.celery_app",
            "worker",
            "-B",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
        ],
        env=os.environ.copy(),
        # The worker's own lines (its dead-letter warnings, "Warm shutdown") go to a log
        # file, so the terminal shows the demo's story only.
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        stored = wait_for(eng, ids, dead_before, bad, args.timeout, worker, log_path)
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown: finish, acknowledge, exit
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
    lines = sum(1 for _ in read_lines([feed]))
    duplicates = lines - bad - len(ids)
    rows = api.suppressions(engine=eng)
    if args.json:
        story = {"lines": lines, "applied": len(ids), "stored_before": stored_before,
                 "duplicates": duplicates, "dead_letters": bad, "suppressions": rows}  # fmt: skip
        print(json.dumps(story, indent=2))
        return 0
    print(stored)
    again = (
        f" ({stored_before} of them stored by an earlier run already: a replay changes nothing)"
        if stored_before
        else ""
    )
    print(
        f"the feed's {lines} lines: {len(ids)} distinct events applied{again}, {duplicates} "
        f"duplicate(s) of an event already in it (same event_id: changes nothing), {bad} bad "
        "line(s) stored as dead letters (`bounce-worker dead-letters list` shows why)"
    )
    print_suppressions(rows)
    return 0


def dated_sample(home: Path, now: datetime) -> Path:
    """The bundled sample with every occurred_at moved by the same amount, so its newest
    event is an hour before `now` (on the hour): the story keeps its order and spacing.
    Lines that are not events (the sample's bad lines) are kept as they are."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    events: list[tuple[int, dict[str, Any], datetime]] = []
    for number, line in enumerate(lines):
        try:
            event = json.loads(line)
            events.append((number, event, parse_instant(event["occurred_at"], "occurred_at")))
        except (ValueError, KeyError, TypeError, InvalidEvent):
            continue
    newest = max(when for _, _, when in events)
    shift = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1) - newest
    for number, event, when in events:
        event["occurred_at"] = format_instant(when + shift)
        lines[number] = json.dumps(event)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "demo-feed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def expected(feed: str) -> tuple[set[str], int]:
    """The distinct event ids the feed should leave in the database, and its bad lines."""
    ids: set[str] = set()
    bad = 0
    for _source, line in read_lines([feed]):
        try:
            ids.add(service.decode_event(line).event_id)
        except InvalidEvent:
            bad += 1
    return ids, bad


def wait_for(
    eng: Any, ids: set[str], dead_before: int, bad: int, timeout: float, worker: Any, log_path: Any
) -> str:
    dead = dead_before + bad
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise CliError(
                f"the worker exited early with status {worker.returncode}: see {log_path}"
            )
        with UnitOfWork(eng) as uow:
            done = stored_count(uow, ids)
            dead_now = uow.session.scalar(select(func.count()).select_from(DeadLetterRow))
        if done == len(ids) and (dead_now or 0) >= dead:
            return f"worker stored {done} events and {dead - dead_before} dead letters"
        time.sleep(0.5)
    raise CliError(f"timed out after {timeout:.0f}s waiting for the worker: see {log_path}")


def stored_count(uow: UnitOfWork, ids: set[str]) -> int:
    """How many of the feed's event ids the database holds."""
    query = select(func.count()).where(ProcessedEventRow.event_id.in_(ids))
    return uow.session.scalar(query) or 0


def print_suppressions(rows: list[dict[str, Any]]) -> None:
    table = Table(
        "address",
        "channel",
        "scope",
        "organization",
        "list",
        "state",
        "reason",
        "blocked until",
        title="Suppressions",
    )
    for r in rows:
        table.add_row(
            r["address"],
            r["channel"],
            r["scope"],
            r["organization"] or "",
            r["list"] or "",
            r["state"],
            r["reason"] or "",
            r["blocked_until"] or "",
        )
    # Piped or redirected: as wide as the rows need (full addresses and instants).
    output_console().print(table)
    print(f"{len(rows)} suppressed entries; `bounce-worker status ADDRESS --json` explains one.")
