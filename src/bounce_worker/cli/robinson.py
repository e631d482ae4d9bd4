"""`bounce-worker robinson import|list|remove`: Robinson lists, external do-not-contact
lists consulted by every check (robinson.py). Run by the machine's administrator; audited."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bounce_worker import audit, robinson
from bounce_worker.cli.common import CliError, engine, organization
from bounce_worker.cli.progress import bar
from bounce_worker.clock import utcnow
from bounce_worker.domain.events import format_instant


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "robinson",
        help="Robinson lists (external do-not-contact lists): import, list, remove",
        description="Robinson lists: addresses, phone numbers or their SHA-256 hashes that "
        "nobody may send to, platform-wide or for one organization. Checks, the import check "
        "and the contact card show a listed address as blacklisted, reason robinson, scope "
        "robinson/NAME. Only SHA-256 digests are stored.",
    )
    actions = parser.add_subparsers(dest="robinson_command", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import",
        help="import a list (replaces the list of that name, atomically)",
        description="Read FILE (a CSV whose first column is the address, or one value a line: "
        "email address, +E.164 phone number, or the hex SHA-256 of the lower-cased address) "
        "and put it in place of the list called NAME in one transaction. Bad lines are "
        "counted and the first few named; a file with no good line changes nothing.",
    )
    imp.add_argument("file", metavar="FILE", help="the list (UTF-8; CSV or one value a line)")
    imp.add_argument("--name", required=True, help="the list's name (re-import to replace it)")
    imp.add_argument(
        "--organization",
        type=organization,
        metavar="ORG",
        help="the organization it applies to (default: all)",
    )
    imp.set_defaults(func=run_import)
    listing = actions.add_parser(
        "list",
        help="the lists, their size and when imported",
        description="The Robinson lists: name, organization (or platform-wide), entries, "
        "when imported.",
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=run_list)
    remove = actions.add_parser(
        "remove",
        help="drop a list",
        description="Drop a Robinson list by NAME (with --organization for an "
        "organization's list): its addresses are no longer answered robinson.",
    )
    remove.add_argument("name", metavar="NAME")
    remove.add_argument(
        "--organization", type=organization, metavar="ORG", help="the organization's list"
    )
    remove.set_defaults(func=run_remove)


def run_import(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        raise CliError(f"no such file: {source}")
    eng = engine()
    who = audit.Who.administrator()
    with bar(f"importing {args.name} (lines read)", None) as progress:
        try:
            done = robinson.import_list(
                eng, source, name=args.name, organization=args.organization, now=utcnow(),
                actor=who.actor, progress=progress,
            )  # fmt: skip
        except robinson.BadList as exc:
            raise CliError(f"{source}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise CliError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    audit.record(
        eng, who, "robinson import", "done", now=utcnow(), organization=done.organization,
        target=f"robinson list {done.name}",
        detail=f"{done.entries} entries from {source.name}, {done.bad} bad lines",
    )  # fmt: skip
    where = done.organization or "every organization"
    replaced = "new list" if done.replaced is None else f"replaced {done.replaced} entries"
    print(f"robinson list {done.name!r} for {where}: {done.entries} entries from "
          f"{done.lines} lines ({replaced}), {done.bad} bad lines")  # fmt: skip
    for error in done.first_errors:
        print(f"  skipped {error}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    lists = robinson.listing(engine())
    if args.json:
        print(json.dumps([{"name": x.name, "organization": x.organization, "entries": x.entries,
                           "imported_at": format_instant(x.imported_at),
                           "imported_by": x.imported_by} for x in lists], indent=2))  # fmt: skip
        return 0
    if not lists:
        print("no Robinson lists: `bounce-worker robinson import FILE --name NAME`")
    for x in lists:
        print(f"{x.name}\t{x.organization or '(platform)'}\t{x.entries}\t"
              f"{format_instant(x.imported_at)}")  # fmt: skip
    return 0


def run_remove(args: argparse.Namespace) -> int:
    eng = engine()
    try:
        entries = robinson.remove(eng, args.name, args.organization)
    except robinson.BadList as exc:
        hint = " (see `bounce-worker robinson list`)" if str(exc).startswith("no ") else ""
        raise CliError(f"{exc}{hint}") from None
    audit.record(
        eng, audit.Who.administrator(), "robinson remove", "done", now=utcnow(),
        organization=args.organization, target=f"robinson list {args.name}",
    )  # fmt: skip
    print(f"removed robinson list {args.name!r} ({entries} entries)")
    return 0
