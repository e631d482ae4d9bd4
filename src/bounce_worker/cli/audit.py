"""`bounce-worker audit`: who did what, why and when (API and CLI), refused calls included."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from bounce_worker import audit
from bounce_worker.cli.common import engine, organization, output_console


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "audit",
        help="the audit log: operator actions and refused calls, newest first",
        description="Every operator action over the HTTP API (and key management at the "
        "CLI) with who (key, holder, role), for which organization, what, the written "
        "reason, when and the outcome (done, unchanged, denied, failed). Refused calls "
        "are kept too.",
    )
    parser.add_argument(
        "--organization", type=organization, metavar="ORG", help="only this organization's rows"
    )
    parser.add_argument(
        "--outcome", choices=audit.OUTCOMES, help="only rows with this outcome (e.g. denied)"
    )
    parser.add_argument("--limit", type=int, default=50, metavar="N", help="rows (default 50)")
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.set_defaults(func=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    rows = audit.listing(
        engine(), organization=args.organization, outcome=args.outcome, limit=max(1, args.limit)
    )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("the audit log is empty")
        return 0
    table = Table("id", "at", "actor", "role", "org", "action", "target", "outcome", "why")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["at"],
            r["actor"],
            r["role"],
            r["organization"] or "",
            r["action"],
            r["target"] or "",
            r["outcome"],
            r["reason"] or r["detail"] or "",
        )
    output_console().print(table)  # piped: as wide as the rows need
    return 0
