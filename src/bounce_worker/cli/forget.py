"""`bounce-worker forget ADDRESS`: the right to be forgotten, still suppressed."""

from __future__ import annotations

import argparse
from typing import Any

from bounce_worker import api
from bounce_worker.cli.common import CliError, engine
from bounce_worker.domain.permissions import Refused
from bounce_worker.domain.targets import parse_target


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "forget",
        help="erase what is stored about an address, keeping it suppressed",
        description="Deletes event payloads, diagnostics and notes that contain the address, "
        "its delivery facts and dead-letter payloads, and keeps its entries under a keyed "
        "hash (HMAC-SHA256 with BOUNCE_WORKER_SECRET_KEY), so a later import or check of "
        "the same address is still caught.",
    )
    parser.add_argument(
        "address",
        metavar="ADDRESS|PHONE",
        help="an email address or a phone number (+4915112345678), by the rule every "
        "command uses (a domain is refused: forget is about one person)",
    )
    parser.add_argument("--actor", required=True, metavar="NAME", help="who does this (kept)")
    parser.set_defaults(func=run_forget)


def run_forget(args: argparse.Namespace) -> int:
    target = parse_target(args.address)  # the rule every command uses
    try:
        done = api.forget(target.display, actor=args.actor, engine=engine())
    except Refused as exc:
        raise CliError(f"refused: {exc}") from None
    summary = ", ".join(f"{what} {n}" for what, n in sorted(done.items())) or "nothing stored"
    print(f"forgot {target.display} ({target.channel}): {summary}")
    return 0
