"""`bounce-worker status ADDRESS`: the effective state, its reason and its history."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from bounce_worker import api
from bounce_worker.cli.common import engine


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "status",
        help="may I send to this address, and if not, why?",
        description="The effective state for a send to ADDRESS by ORGANIZATION (and LIST): "
        "the strongest of the global, organization, list and domain entries, with history.",
    )
    parser.add_argument("address", metavar="ADDRESS", help="email address or E.164 phone number")
    parser.add_argument("--channel", choices=["email", "sms"], default="email")
    parser.add_argument("--organization", metavar="ORG", help="the sending organization")
    parser.add_argument("--list", metavar="LIST", help="the list inside the organization")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    verdict = api.check(
        args.address,
        channel=args.channel,
        organization=args.organization,
        list=args.list,
        engine=engine(),
    )
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2))
        return 0
    console = Console()
    console.print(
        f"[bold]{verdict.address}[/] ({verdict.channel}): [bold]{verdict.state}[/]", end=""
    )
    console.print(f" - {verdict.reason}" if verdict.reason else "", end="")
    console.print(f" until {verdict.blocked_until}" if verdict.blocked_until else "")
    if verdict.transitions:
        table = Table("when", "scope", "from", "to", "reason", "diagnostic / note")
        for t in verdict.transitions:
            table.add_row(
                t["occurred_at"],
                t["scope"],
                t["from"],
                t["to"],
                t["reason"],
                (t["diagnostic"] or t["note"] or "")[:80],
            )
        console.print(table)
    return 0
