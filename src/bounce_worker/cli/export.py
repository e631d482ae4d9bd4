"""`bounce-worker export`: suppressions to CSV, streaming."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bounce_worker import export
from bounce_worker.cli.common import engine, organization
from bounce_worker.cli.progress import bar

STATES = ["blacklisted", "blocked", "temporarily_blocked", "active"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="write suppressions to a CSV file (streaming, any size)",
        description="Columns: address, channel, scope, organization, list, state, reason, "
        "since, blocked_until, last_diagnostic, last_detail (the latest bounce's fine reason) "
        "(or only address with --email-only). "
        "Deleted and forgotten entries are left out.",
    )
    parser.add_argument(
        "--state",
        action="append",
        choices=STATES,
        help="state to export; repeat for several (default: every suppressing state)",
    )
    parser.add_argument(
        "--channel", choices=["email", "sms", "domain"], help="one channel (default: all)"
    )
    parser.add_argument(
        "--organization",
        type=organization,
        metavar="ORG",
        help="only this organization's own entries",
    )
    parser.add_argument(
        "--email-only",
        action="store_true",
        help="one column, the address, of email entries (unless --channel says otherwise)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="FILE.csv", help="output file")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    eng = engine()
    states = args.state or STATES[:3]
    channel = args.channel or ("email" if args.email_only else None)
    total = export.count(eng, states, channel, args.organization)
    with (
        Path(args.output).open("w", newline="", encoding="utf-8") as out,
        bar("exporting", total) as progress,
    ):
        written = export.write_csv(
            eng, out, states, channel, args.organization, args.email_only, progress
        )
    print(f"exported {written} entries to {args.output}")
    return 0
