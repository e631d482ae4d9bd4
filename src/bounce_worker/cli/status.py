"""`bounce-worker status ADDRESS`: the effective state, its reason and its history."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from bounce_worker import api
from bounce_worker.cli.common import engine
from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.targets import parse_target


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "status",
        help="may I send to this address, and if not, why?",
        description="The effective state for a send to ADDRESS by ORGANIZATION (and LIST): "
        "the strongest of the global, organization, list and domain entries, with history.",
    )
    parser.add_argument(
        "address",
        metavar="ADDRESS",
        help="email address or phone number (+49 151 ...: the sms channel is implied)",
    )
    parser.add_argument(
        "--channel",
        choices=["email", "sms"],
        help="default: what ADDRESS is, by the rule suppress uses (a phone number is sms)",
    )
    parser.add_argument("--organization", metavar="ORG", help="the sending organization")
    parser.add_argument("--list", metavar="LIST", help="the list inside the organization")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    # One rule for what an argument is (domain/targets.py), the one suppress and lift use.
    channel = args.channel or _channel_of(args.address)
    verdict = api.check(
        args.address,
        channel=channel,
        organization=args.organization,
        list=args.list,
        engine=engine(),
    )
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2))
        return 0
    # Piped or redirected: never cut at 80 columns (the MTA's reply and the date would go).
    console = Console() if sys.stdout.isatty() else Console(width=1000, soft_wrap=True)
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
                _cut(t["diagnostic"] or t["note"] or "", console),
            )
        console.print(table)
    return 0


def _cut(text: str, console: Console) -> str:
    return text[:80] if console.is_terminal else text


def _channel_of(address: str) -> str:
    try:
        return "sms" if parse_target(address).channel == "sms" else "email"
    except InvalidAddress:
        return "email"  # checked as an email address, so the error names what was expected
