"""`bounce-worker stats`: the latest recalculation, per organization and channel."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from bounce_worker import jobs
from bounce_worker.cli.common import CliError, engine
from bounce_worker.domain.events import format_instant

COLUMNS = ("active", "temporarily_blocked", "blacklisted", "blocked", "lost", "never_sent")
HEADERS = (
    "org",
    "channel",
    "active",
    "temp blocked",
    "blacklisted",
    "blocked",
    "lost",
    "never sent",
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "stats",
        help="latest suppression figures per organization and channel (lost vs never sent)",
        description="The latest snapshot stored by `bounce-worker recalculate` (or the "
        "nightly job). Global entries (hard bounces, temporary blocks) are one '(global)' "
        "row per channel; with --organization, that organization's rows and the global ones.",
    )
    parser.add_argument("--organization", metavar="ORG", help="only this organization")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(func=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    rows = jobs.latest_stats(engine(), args.organization)
    if not rows:
        raise CliError("no figures yet: run `bounce-worker recalculate` first")
    computed_at = format_instant(rows[0].computed_at)
    if args.json:
        figures = [
            {"organization": r.organization or None, "channel": r.channel}
            | {c: getattr(r, c) for c in COLUMNS}
            for r in rows
        ]
        print(json.dumps({"computed_at": computed_at, "rows": figures}, indent=2))
        return 0
    table = Table(*HEADERS[:2], title=f"Suppressions as of {computed_at}")
    for header in HEADERS[2:]:
        table.add_column(header, justify="right")
    for r in rows:
        table.add_row(
            r.organization or "(global)", r.channel, *(f"{getattr(r, c):,}" for c in COLUMNS)
        )
    Console().print(table)
    return 0
