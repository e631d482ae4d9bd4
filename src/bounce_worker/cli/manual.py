"""Operator commands on one entry: `suppress`, `lift`, `delete`, `restore`.

Each names the entry (TARGET, --scope, --organization, --list), who acts (--actor, --role)
and why (--reason, required): the transition row keeps all of it.
"""

from __future__ import annotations

import argparse
from typing import Any

from bounce_worker import api
from bounce_worker.cli.common import TARGET_HELP, CliError, engine, list_name, organization
from bounce_worker.domain.permissions import Refused

ROLE_HELP = (
    "on whose behalf: owner (the account owner: blacklisted entries of their own "
    "organization) or support (anything, including blocked and global entries)"
)


def _entry_args(parser: argparse.ArgumentParser, role_default: str) -> None:
    parser.add_argument("target", metavar="ADDRESS|DOMAIN|PHONE", help=TARGET_HELP)
    parser.add_argument(
        "--scope",
        choices=["global", "organization", "list"],
        default="organization",
        help="global (every organization), organization (default) or list",
    )
    parser.add_argument(
        "--organization", type=organization, metavar="ORG", help="the organization (account)"
    )
    parser.add_argument(
        "--list", type=list_name, metavar="LIST", help="the list inside the organization"
    )
    parser.add_argument("--reason", required=True, metavar="TEXT", help="written reason (kept)")
    parser.add_argument("--actor", required=True, metavar="NAME", help="who does this (kept)")
    parser.add_argument(
        "--role",
        choices=["owner", "support"],
        default=role_default,
        help=f"{ROLE_HELP}; default {role_default}",
    )


def register(sub: Any) -> None:
    add = sub.add_parser(
        "suppress",
        help="add a manual entry (address, domain or phone) with a written reason",
        description="Suppress an address, every address at a domain, or a phone number. "
        "A manual entry raises the state and never weakens one.",
    )
    _entry_args(add, "support")
    add.add_argument(
        "--state", choices=["blacklisted", "blocked"], default="blacklisted", help="(blacklisted)"
    )
    add.add_argument(
        "--contact",
        metavar="ID",
        help="your contact id: links this address or phone to the contact's others "
        "(needs --organization)",
    )
    add.set_defaults(func=run, action=api.suppress)

    lift = sub.add_parser(
        "lift",
        help="lift an entry back to active (role rules apply)",
        description="An account owner (--role owner, the default) may lift blacklisted "
        "entries of their own organization; blocked, temporarily blocked and global "
        "entries need --role support. A refused lift changes nothing.",
    )
    _entry_args(lift, "owner")
    lift.set_defaults(func=run, action=api.lift)

    for name, action, text in (
        ("delete", api.delete, "hide an entry from listings and exports (still enforced)"),
        ("restore", api.restore, "show a deleted entry again"),
    ):
        parser = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        _entry_args(parser, "owner")
        parser.set_defaults(func=run, action=action)


def run(args: argparse.Namespace) -> int:
    extra = {"state": args.state, "contact_id": args.contact} if args.action is api.suppress else {}
    try:
        change = args.action(
            args.target,
            scope=args.scope,
            organization=args.organization,
            list=args.list,
            reason=args.reason,
            actor=args.actor,
            role=args.role,
            engine=engine(),
            **extra,
        )
    except Refused as exc:
        raise CliError(f"refused: {exc}") from None
    print(f"{change.entry}: {change.message}")
    return 0
