"""`bounce-worker status ADDRESS`: the effective state, its reason and its history."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from bounce_worker import api
from bounce_worker.cli.common import (
    TARGET_HELP,
    CliError,
    engine,
    list_name,
    organization,
    output_console,
)
from bounce_worker.domain.targets import parse_target


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "status",
        help="may I send to this address, and if not, why?",
        description="The effective state for a send to ADDRESS by ORGANIZATION (and LIST): "
        "the strongest of the global, organization, list and domain entries, with history.",
    )
    parser.add_argument("address", metavar="ADDRESS|DOMAIN|PHONE", help=TARGET_HELP)
    parser.add_argument(
        "--channel",
        choices=["email", "sms", "domain"],
        help="default: what the argument is, by the rule every command uses "
        "(user@example.org: email, example.org: domain, +49 151 ...: sms)",
    )
    parser.add_argument(
        "--organization", type=organization, metavar="ORG", help="the sending organization"
    )
    parser.add_argument(
        "--list", type=list_name, metavar="LIST", help="the list inside the organization"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    # One rule for what an argument is (domain/targets.py), the one every command uses.
    target = parse_target(args.address, args.channel)
    if args.list and not args.organization:
        # A list lives inside an organization: without one the list was ignored, and a
        # list unsubscribe read `active`.
        raise CliError("--list needs --organization (a list belongs to an organization)")
    verdict = api.check(
        target.display,
        channel=target.channel,
        organization=args.organization,
        list=args.list,
        engine=engine(),
    )
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2))
        return 0
    # Piped or redirected: never cut at 80 columns (the MTA's reply and the date would go).
    console = output_console()
    console.print(
        f"[bold]{verdict.address}[/] ({verdict.channel}): [bold]{verdict.state}[/]", end=""
    )
    console.print(f" - {verdict.reason}" if verdict.reason else "", end="")
    console.print(f" until {verdict.blocked_until}" if verdict.blocked_until else "")
    if verdict.transitions:
        table = Table("when", "scope", "from", "to", "reason", "detail", "diagnostic / note")
        for t in verdict.transitions:
            table.add_row(
                t["occurred_at"],
                t["scope"],
                t["from"],
                t["to"],
                t["reason"],
                t["detail"] or "",
                _cut(t["diagnostic"] or t["note"] or "", console),
            )
        console.print(table)
    return 0


def _cut(text: str, console: Console) -> str:
    return text[:80] if console.is_terminal else text
