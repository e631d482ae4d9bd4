"""The nightly jobs, run now: `bounce-worker unlock-expired [--now ISO8601]`."""

from __future__ import annotations

import argparse
from typing import Any

from bounce_worker import jobs
from bounce_worker.cli.common import engine, instant, now_arg


def register(sub: Any) -> None:
    unlock = sub.add_parser(
        "unlock-expired",
        help="run the nightly unlock now (safe to re-run; catches up missed nights)",
        description="Every temporarily_blocked entry whose blocked_until has passed becomes "
        "active, with a transition.",
    )
    unlock.add_argument(
        "--now", type=instant, metavar="ISO8601", help="use this instant instead of the clock"
    )
    unlock.set_defaults(func=run_unlock)


def run_unlock(args: argparse.Namespace) -> int:
    count = jobs.unlock_expired(engine(), now=now_arg(args.now))
    print(f"unlocked {count} entries")
    return 0
