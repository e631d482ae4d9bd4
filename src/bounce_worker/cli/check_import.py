"""`bounce-worker check-import`: which contacts of a file would be skipped, and why."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bounce_worker.cli.common import CliError, engine, list_name, organization
from bounce_worker.cli.progress import bar
from bounce_worker.config import settings
from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.targets import parse_target
from bounce_worker.importcheck import BadFile, check_file, read_items


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "check-import",
        help="check a contact CSV against the suppressions before a campaign",
        description="For each row: send, skip (state, reason, the entry that applies: "
        "global, organization, list or domain) or bad (with why). The report is a CSV; "
        "the summary counts are printed at the end.",
    )
    parser.add_argument("contacts", metavar="CONTACTS.csv", help="CSV file with a header line")
    parser.add_argument(
        "--organization", type=organization, required=True, metavar="ORG", help="sending account"
    )
    parser.add_argument(
        "--list", type=list_name, metavar="LIST", help="the list the import goes into"
    )
    parser.add_argument("--column", default="email", help="column with the address (email)")
    parser.add_argument(
        "--channel",
        choices=["email", "sms"],
        help="what the column holds; default: what its first address is, by the rule every "
        "command uses (+4915...: sms, else email)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="REPORT.csv", help="report file")
    parser.set_defaults(func=run_check_import)


def run_check_import(args: argparse.Namespace) -> int:
    source = Path(args.contacts)
    if not source.is_file():
        raise CliError(f"no such file: {source}")
    try:
        channel = args.channel or column_channel(source, args.column)
    except BadFile as exc:
        raise CliError(f"{source}: {exc}") from None
    with (
        Path(args.output).open("w", newline="", encoding="utf-8") as out,
        bar("checking rows", None) as progress,
    ):
        try:
            counts = check_file(
                engine(),
                source,
                out,
                organization=args.organization,
                list_id=args.list,
                column=args.column,
                channel=channel,
                secret=settings().secret_key,
                progress=progress,
            )
        except BadFile as exc:
            raise CliError(f"{source}: {exc}") from None
    total = counts["send"] + counts["skip"] + counts["bad"]
    states = ", ".join(
        f"{key.split(':', 1)[1]} {n}"
        for key, n in sorted(counts.items())
        if key.startswith("skip:")
    )
    print(
        f"checked {total} rows: send {counts['send']}, skip {counts['skip']}"
        + (f" ({states})" if states else "")
        + f", bad {counts['bad']}; report: {args.output}"
    )
    return 0


def column_channel(source: Path, column: str) -> str:
    """sms when the column's first valid value is a phone number, by the rule every command
    uses (targets.parse_target), else email. Values that do not parse are skipped."""
    for chunk in read_items(source, column):
        for _line, value, _why in chunk:
            try:
                channel = parse_target(value or "").channel
            except InvalidAddress:
                continue
            if channel in ("email", "sms"):
                return channel
        break  # the first chunk decides; a column without a valid value is checked as email
    return "email"
