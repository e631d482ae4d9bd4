"""`bounce-worker policy set|show`: an organization's own soft-bounce limit and temporary
block ladder (org_policy.py), over BOUNCE_WORKER_SOFT_BOUNCE_LIMIT / _LADDER_DAYS. Audited."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bounce_worker import audit, org_policy
from bounce_worker.cli.common import CliError, engine
from bounce_worker.clock import utcnow
from bounce_worker.config import settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "policy",
        help="an organization's soft-bounce limit and temporary-block ladder",
        description="Per-organization policy over the environment's defaults. Workers pick "
        "a change up within 30 s.",
    )
    actions = parser.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    put = actions.add_parser(
        "set",
        help="set an organization's numbers (the others keep theirs)",
        description="Set ORG's soft-bounce limit and/or temporary-block ladder over the "
        "environment's defaults (BOUNCE_WORKER_SOFT_BOUNCE_LIMIT, _LADDER_DAYS); "
        "--default drops ORG's overrides.",
    )
    put.add_argument("organization", metavar="ORG")
    put.add_argument("--soft-bounce-limit", type=int, metavar="N",
                     help="consecutive soft bounces before blacklisted")  # fmt: skip
    put.add_argument("--ladder", metavar="DAYS", help="temporary block days, e.g. 1,2,3,90")
    put.add_argument("--default", action="store_true", help="drop the overrides")
    put.set_defaults(func=run_set)
    show = actions.add_parser(
        "show",
        help="the overrides (all, or one organization's)",
        description="The soft-bounce limit and ladder in force for ORG (or every "
        "organization with overrides).",
    )
    show.add_argument("organization", metavar="ORG", nargs="?")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_show)


def run_set(args: argparse.Namespace) -> int:
    eng = engine()
    try:
        if args.default:
            limit, ladder = None, None
        else:
            if args.soft_bounce_limit is None and args.ladder is None:
                raise CliError("give --soft-bounce-limit, --ladder, or --default")
            current = next(iter(org_policy.listing(eng, args.organization)), None)
            limit = args.soft_bounce_limit or (current.soft_bounce_limit if current else None)
            ladder = org_policy.parse_ladder(args.ladder) or (
                current.ladder_days if current else None
            )
        done = org_policy.set_policy(
            eng, args.organization, soft_bounce_limit=limit, ladder_days=ladder, now=utcnow(),
            actor=audit.Who.administrator().actor,
        )  # fmt: skip
    except org_policy.BadPolicy as exc:
        raise CliError(str(exc)) from None
    audit.record(
        eng, audit.Who.administrator(), "policy set", "done", now=utcnow(),
        organization=done.organization, target=f"policy {done.organization}",
        detail=json.dumps(done.to_dict()),
    )  # fmt: skip
    print(_line(done.organization, done.soft_bounce_limit, done.ladder_days))
    return 0


def _line(org: str, limit: int | None, ladder: tuple[int, ...] | None) -> str:
    base = settings().policy
    shown_limit = f"{limit}" if limit else f"{base.soft_bounce_limit} (default)"
    days = (
        ",".join(map(str, ladder or base.ladder_days)) + " days" + ("" if ladder else " (default)")
    )
    return f"{org}: soft-bounce limit {shown_limit}, ladder {days}"


def run_show(args: argparse.Namespace) -> int:
    found = org_policy.listing(engine(), args.organization)
    if args.json:
        print(json.dumps([o.to_dict() for o in found], indent=2))
        return 0
    if not found:
        print(_line(args.organization or "every organization", None, None))
    for o in found:
        print(_line(o.organization, o.soft_bounce_limit, o.ladder_days))
    return 0
