"""`bounce-worker stats`: the latest recalculation, per organization and channel."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from bounce_worker import bounce_reasons, jobs, recorded
from bounce_worker.cli.common import CliError, engine, organization, output_console
from bounce_worker.clock import utcnow
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
        "row per channel; with --organization, that organization's rows and the global ones. "
        "Below them, live: feedback recorded without changing state (SPEC 7), unverified "
        "(e.g. a bounce mail without a valid VERP token) and unattributed (a complaint, "
        "unsubscribe or soft bounce naming no organization), in total and over 24 hours; "
        "and, live, the bounces applied per fine reason (user_unknown, mailbox_full, ...: "
        "docs/classification.md), in total and over 24 hours.",
    )
    parser.add_argument(
        "--organization", type=organization, metavar="ORG", help="only this organization"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(func=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    db = engine()
    rows = jobs.latest_stats(db, args.organization)
    now = utcnow()
    counts = recorded.recorded_only(db, now)
    reasons = bounce_reasons.by_reason(db, now)
    if not rows and not any(c.total for c in counts) and not reasons:
        raise CliError("no figures yet: run `bounce-worker recalculate` first")
    computed_at = format_instant(rows[0].computed_at) if rows else None
    if args.json:
        figures = [
            {"organization": r.organization or None, "channel": r.channel}
            | {c: getattr(r, c) for c in COLUMNS}
            for r in rows
        ]
        out = {"computed_at": computed_at, "rows": figures}
        out |= {
            "recorded_only": recorded.as_json(counts),
            "bounce_reasons": bounce_reasons.as_json(reasons),
        }
        print(json.dumps(out, indent=2))
        return 0
    console = output_console()  # piped: as wide as the rows need
    if rows:
        table = Table(*HEADERS[:2], title=f"Suppressions as of {computed_at}")
        for header in HEADERS[2:]:
            table.add_column(header, justify="right")
        for r in rows:
            table.add_row(
                r.organization or "(global)", r.channel, *(f"{getattr(r, c):,}" for c in COLUMNS)
            )
        console.print(table)
    else:
        console.print("No suppression figures yet: run `bounce-worker recalculate`.")
    kept = Table("recorded only", title="Feedback that changed no state (SPEC 7), live")
    kept.add_column("total", justify="right")
    kept.add_column("last 24 h", justify="right")
    for c in counts:
        kept.add_row(c.reason, f"{c.total:,}", f"{c.last_24h:,}")
    console.print(kept)
    if reasons:
        fine = Table("reason", "category", title="Bounces applied per fine reason, live")
        fine.add_column("total", justify="right")
        fine.add_column("last 24 h", justify="right")
        for f in reasons:
            fine.add_row(f.detail, f.category, f"{f.total:,}", f"{f.last_24h:,}")
        console.print(fine)
    return 0
