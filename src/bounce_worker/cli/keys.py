"""`bounce-worker keys create|list|revoke`: the API keys of the HTTP API (/v1).

The CLI itself runs as the machine's administrator and needs no key; keys are for the
HTTP API, where identity is enforced. Making and revoking keys is audited.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.table import Table

from bounce_worker import audit, credentials
from bounce_worker.cli.common import CliError, engine, organization, output_console
from bounce_worker.clock import utcnow
from bounce_worker.domain.events import format_instant
from bounce_worker.domain.permissions import Role

ROLES = [r.value for r in Role]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "keys",
        help="API keys for the HTTP API: create, list, revoke",
        description="API keys for the /v1 HTTP API. Each key has one role (sender: check "
        "only; owner: its organization's entries, lists and policy; support: every "
        "organization; producer: posts events for its organization) and one organization. "
        "The key is printed once; only a scrypt hash of it is stored.",
    )
    keys = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    create = keys.add_parser(
        "create",
        help="make a key and print it (once)",
        description="Make an API key and print it once: store it in the client's secret "
        "store now, it cannot be shown again. sender and owner keys need --organization; "
        "support and producer keys without one are platform-wide.",
    )
    create.add_argument(
        "--organization", type=organization, metavar="ORG", help="the organization it acts for"
    )
    create.add_argument("--role", required=True, choices=ROLES, help="what the key may do")
    create.add_argument("--name", metavar="NAME", help="who holds it (recorded as the actor)")
    create.add_argument("--json", action="store_true", help="print a JSON object")
    create.set_defaults(func=run_create)

    listing = keys.add_parser(
        "list",
        help="list keys (never the keys themselves)",
        description="Every API key: id, role, organization, holder, created, revoked. "
        "The keys themselves are stored hashed and never shown again.",
    )
    listing.add_argument("--active", action="store_true", help="leave out revoked keys")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=run_list)

    revoke = keys.add_parser(
        "revoke",
        help="revoke a key by its id; refused within BOUNCE_WORKER_API_KEY_CACHE_SECONDS",
        description="Revoke a key by its id (the 12 hex digits `keys list` shows, or the "
        "whole key). A running server refuses it within BOUNCE_WORKER_API_KEY_CACHE_SECONDS "
        "(default 5): each process trusts a key it verified that long.",
    )
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id (or the whole key)")
    revoke.set_defaults(func=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    eng = engine()
    who = audit.Who.administrator()
    try:
        made = credentials.create(
            eng,
            role=args.role,
            organization=args.organization,
            name=args.name,
            now=utcnow(),
            created_by=who.actor,
        )
    except credentials.BadKeyRequest as exc:
        raise CliError(str(exc)) from None
    p = made.principal
    audit.record(
        eng, who, "keys create", "done", now=utcnow(), organization=p.organization,
        target=f"key {p.key_id}", detail=f"role {p.role}, name {p.name}",
    )  # fmt: skip
    if args.json:
        print(json.dumps({"key": made.key, "key_id": p.key_id, "name": p.name,
                          "role": str(p.role), "organization": p.organization}))  # fmt: skip
        return 0
    print(made.key)
    scope = p.organization or "every organization"
    print(
        f"key {p.key_id}: role {p.role} for {scope}, holder {p.name!r}. Shown once: store it now.",
        file=sys.stderr,
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    keys = credentials.listing(engine(), include_revoked=not args.active)
    if args.json:
        print(json.dumps([_as_dict(k) for k in keys], indent=2))
        return 0
    if not keys:
        print("no API keys yet: `bounce-worker keys create --organization ORG --role ROLE`")
        return 0
    table = Table("key id", "role", "organization", "name", "created", "revoked")
    for k in keys:
        table.add_row(
            k.key_id,
            k.role,
            k.organization or "(platform)",
            k.name,
            format_instant(k.created_at) or "",
            format_instant(k.revoked_at) or "",
        )
    output_console().print(table)  # piped: as wide as the rows need
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    eng = engine()
    try:
        info = credentials.revoke(eng, args.key_id, now=utcnow())
    except credentials.BadKeyRequest as exc:
        raise CliError(str(exc)) from None
    audit.record(
        eng, audit.Who.administrator(), "keys revoke", "done", now=utcnow(),
        organization=info.organization, target=f"key {info.key_id}",
    )  # fmt: skip
    print(f"revoked key {info.key_id} ({info.role}, {info.organization or 'platform'}, "
          f"{info.name}) at {format_instant(info.revoked_at)}")  # fmt: skip
    return 0


def _as_dict(k: credentials.KeyInfo) -> dict[str, Any]:
    return {
        "key_id": k.key_id,
        "name": k.name,
        "role": k.role,
        "organization": k.organization,
        "created_at": format_instant(k.created_at),
        "created_by": k.created_by,
        "revoked_at": format_instant(k.revoked_at),
    }
