"""`bounce-worker process` (apply now, no broker) and `publish` (put on the queue)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bounce_worker import service
from bounce_worker.cli.common import CliError, engine
from bounce_worker.clock import utcnow
from bounce_worker.config import settings


def register(sub: Any) -> None:
    process = sub.add_parser(
        "process",
        help="apply events from files (JSON Lines) to the database now, without a broker",
        description="Apply normalized events (one JSON object per line) synchronously. "
        "Lines that do not parse or validate are stored as dead letters with the reason.",
    )
    process.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines file, or - for stdin")
    process.set_defaults(func=run_process)

    publish = sub.add_parser(
        "publish",
        help="put events from files (JSON Lines) on the queue for the workers",
        description="Publish each line as one bounce_worker.process_event task. "
        "Validation happens in the worker, which dead-letters bad lines.",
    )
    publish.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines file, or - for stdin")
    publish.set_defaults(func=run_publish)


def read_lines(files: list[str]) -> Iterator[tuple[str, str]]:
    """(source, line) for every non-blank line; source is FILE:LINE for the dead letters."""
    for name in files:
        if name != "-" and not Path(name).is_file():
            raise CliError(f"no such file: {name}")
    for name in files:
        stream = sys.stdin.buffer if name == "-" else Path(name).open("rb")  # noqa: SIM115
        with stream:
            for number, raw in enumerate(stream, 1):
                line = raw.decode("utf-8", "surrogateescape").strip()
                if line:
                    yield f"{'stdin' if name == '-' else name}:{number}", line


def run_process(args: argparse.Namespace) -> int:
    s = settings()
    eng = engine()
    counts: Counter[str] = Counter()
    for source, line in read_lines(args.files):
        result = service.process_payload(eng, line, source=source, policy=s.policy, now=utcnow())
        counts[result] += 1
    print(
        f"applied {counts[service.Result.APPLIED]}, "
        f"duplicates {counts[service.Result.DUPLICATE]}, "
        f"dead-lettered {counts[service.Result.DEAD_LETTERED]}"
    )
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from bounce_worker.celery_app import app
    from bounce_worker.tasks import process_event

    published = 0
    with app.producer_or_acquire() as producer:
        for _source, line in read_lines(args.files):
            process_event.apply_async((decode_or_raw(line),), producer=producer)
            published += 1
    print(f"published {published} events")
    return 0


def decode_or_raw(line: str) -> Any:
    """The decoded object, or the line itself so the worker can dead-letter it with a reason."""
    try:
        return json.loads(line)
    except ValueError:
        return line
