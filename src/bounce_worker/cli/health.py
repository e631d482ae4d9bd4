"""`bounce-worker health`: is the database, the broker and a worker answering? (0 or 1)"""

from __future__ import annotations

import argparse
from typing import Any

from bounce_worker.cli.common import CliError
from bounce_worker.config import settings
from bounce_worker.observability.health import (
    HealthError,
    check_broker,
    check_database,
    check_workers,
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "health",
        help="check the database, the broker and that a worker answers (exit 0 or 1)",
        description="Exit 0 and print one line when the database is reachable and migrated, "
        "the broker accepts a connection and a worker answers a ping; otherwise exit 1 with "
        "the first failure on one line. Used by the compose healthchecks.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--skip-worker",
        action="store_true",
        help="check the database and the broker only (for beat, the exporter, Flower)",
    )
    which.add_argument(
        "--worker",
        metavar="NAME",
        help="ping this worker only, e.g. celery@$HOSTNAME (a worker's own healthcheck)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=3.0,
        metavar="SECONDS",
        help="how long each check may take (default: 3)",
    )
    parser.set_defaults(func=run_health)


def run_health(args: argparse.Namespace) -> int:
    s = settings()
    try:
        passed = [check_database(s.database_url, args.timeout), check_broker(args.timeout)]
        if not args.skip_worker and not broadcasts(s.broker_url):
            # Celery's ping is a broadcast; kombu's SQLAlchemy (and filesystem) transports
            # have none, so no worker could ever answer it: say so instead of failing.
            scheme = s.broker_url.split("://", 1)[0]
            if args.worker:
                raise CliError(
                    f"cannot ping {args.worker}: the {scheme} broker has no broadcast "
                    "(use Redis or RabbitMQ for worker pings, or --skip-worker)"
                )
            passed.append(f"worker not pinged ({scheme} broker has no broadcast; Redis has)")
        elif not args.skip_worker:
            passed.append(check_workers(args.timeout, args.worker))
    except HealthError as exc:
        raise CliError(f"unhealthy: {exc}") from None
    print("healthy: " + ", ".join(passed))
    return 0


BROADCASTING = {"redis", "rediss", "amqp", "amqps", "pyamqp"}


def broadcasts(broker_url: str) -> bool:
    """Whether the broker carries Celery's remote control (ping): Redis and AMQP do."""
    return broker_url.split("://", 1)[0].split("+")[0] in BROADCASTING


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 < seconds <= 60:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 60 seconds")
    return seconds
