"""The nightly jobs, run now: `bounce-worker unlock-expired | recalculate | housekeeping`.

Each is the same function the beat schedule runs (safe to re-run, locked against a
concurrent run), with a progress bar on a terminal and a one-line summary on stdout.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bounce_worker import jobs
from bounce_worker.cli.common import engine, instant, now_arg
from bounce_worker.cli.progress import job_progress
from bounce_worker.config import settings


def register(sub: Any) -> None:
    unlock = sub.add_parser(
        "unlock-expired",
        help="run the nightly unlock now (safe to re-run; catches up missed nights)",
        description="Every temporarily_blocked entry whose blocked_until has passed becomes "
        "active, with a transition, in batches of BOUNCE_WORKER_JOB_BATCH_SIZE.",
    )
    recalc = sub.add_parser(
        "recalculate",
        help="recount the suppressions per organization and channel now (see `stats`)",
        description="Count each state per organization and channel, and split blacklisted/"
        "blocked entries into lost (delivered before) and never sent; store a snapshot.",
    )
    house = sub.add_parser(
        "housekeeping",
        help="reset stale escalation counts and purge data past retention now",
        description="Reset temporary-block escalation counts after the quiet period "
        "(BOUNCE_WORKER_QUIET_PERIOD_DAYS); blank event payloads and delete dead letters "
        "older than BOUNCE_WORKER_RETENTION_DAYS. Transitions are kept.",
    )
    for parser, func in ((unlock, run_unlock), (recalc, run_recalculate), (house, run_house)):
        parser.add_argument(
            "--now",
            type=instant,
            metavar="ISO8601",
            help="use this instant instead of the clock: ISO 8601 with a timezone, or an "
            "offset from now (+2d, -12h, +30m)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.set_defaults(func=func)


def run_unlock(args: argparse.Namespace) -> int:
    with job_progress() as progress:
        result = jobs.unlock_expired(engine(), now_arg(args.now), **_sizes(), progress=progress)
    return _report(args, result, f"unlocked {result.rows} entries")


def run_recalculate(args: argparse.Namespace) -> int:
    with job_progress() as progress:
        result = jobs.recalculate(engine(), now_arg(args.now), **_sizes(), progress=progress)
    entries = result.details.get("entries", 0)
    return _report(args, result, f"counted {entries} entries into {result.rows} groups")


def run_house(args: argparse.Namespace) -> int:
    s = settings()
    with job_progress() as progress:
        result = jobs.housekeeping(
            engine(),
            now_arg(args.now),
            quiet_period=s.policy.quiet_period,
            retention=s.retention,
            **_sizes(),
            progress=progress,
        )
    d = result.details
    return _report(
        args,
        result,
        f"reset {d.get('counts_reset', 0)} escalation counts, purged "
        f"{d.get('payloads_purged', 0)} event payloads, {d.get('dead_letters_purged', 0)} "
        f"dead letters and {d.get('stats_purged', 0)} old statistics rows",
    )


def _sizes() -> dict[str, int]:
    s = settings()
    return {"batch_size": s.job_batch_size, "workers": s.job_workers}


def _report(args: argparse.Namespace, result: jobs.JobResult, summary: str) -> int:
    if args.json:
        print(json.dumps(result.to_dict()))
    elif result.skipped:
        print(f"{result.job}: another run is in progress; nothing done")
    else:
        print(summary)
    return 0
