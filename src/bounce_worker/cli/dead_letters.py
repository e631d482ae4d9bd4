"""`bounce-worker dead-letters list|replay|discard`: what could not be applied, a second try,
and deleting the ones that never will apply (as POST /v1/dead-letters/discard, audited)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.table import Table

from bounce_worker import audit, dead_letters
from bounce_worker.cli.common import CliError, engine, output_console
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain.events import format_instant
from bounce_worker.store.models import DeadLetterRow


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "dead-letters",
        help="list, replay and discard inputs that could not be applied",
        description="Every input that failed to parse or validate is stored as a dead letter "
        "with its raw payload and the reason. List them; replay them after a fix; discard "
        "the ones that will never apply.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    show = actions.add_parser(
        "list",
        help="show dead letters, newest first",
        description="Show dead letters not yet replayed (all with --all), newest first.",
    )
    show.add_argument("--json", action="store_true", help="print a JSON array")
    show.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N (50)")
    show.add_argument("--all", action="store_true", help="include replayed ones")
    show.set_defaults(func=run_list)

    replay = actions.add_parser(
        "replay",
        help="re-run dead letters through the path they first took",
        description="Re-run each dead letter's stored payload through the path it first "
        "took. A success marks it replayed; a new failure keeps it, with the new reason. "
        "Without IDs, every dead letter not yet replayed is tried, oldest first.",
    )
    replay.add_argument("ids", nargs="*", type=_positive, metavar="ID", help="dead letter id")
    replay.set_defaults(func=run_replay)

    discard = actions.add_parser(
        "discard",
        help="delete dead letters that will never apply (audited, with your reason)",
        description="Delete the dead letters ID... for good: their payloads are gone, the "
        "audit log keeps who discarded which and why (`bounce-worker audit`). All or "
        "nothing: an unknown ID discards none. The same as POST /v1/dead-letters/discard.",
    )
    discard.add_argument("ids", nargs="+", type=_positive, metavar="ID", help="dead letter id")
    discard.add_argument(
        "--reason", required=True, type=_reason, metavar="TEXT", help="why (kept in the audit log)"
    )
    discard.set_defaults(func=run_discard)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _reason(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("empty: say why (it is kept in the audit log)")
    return value


def as_dict(row: DeadLetterRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "received_at": format_instant(row.received_at),
        "kind": row.kind,
        "source": row.source,
        "reason": row.reason,
        "bytes": len(row.payload),
        # Stored exactly as received; shown as text, undecodable bytes as \\x escapes.
        "payload": row.payload.decode("utf-8", "backslashreplace"),
        "replayed_at": format_instant(row.replayed_at),
    }


def run_list(args: argparse.Namespace) -> int:
    rows = [as_dict(r) for r in dead_letters.pending(engine(), args.limit, everything=args.all)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no dead letters" if args.all else "no dead letters waiting for replay")
        return 0
    if not sys.stdout.isatty():  # piped: one tab-separated line each, for grep and cut
        for r in rows:
            state = "replayed" if r["replayed_at"] else "pending"
            print(r["id"], r["received_at"], r["kind"], state, r["source"] or "-", r["reason"],
                  sep="\t")  # fmt: skip
        return 0
    table = Table("id", "received", "kind", "source", "reason", "payload")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["received_at"],
            r["kind"] + (" (replayed)" if r["replayed_at"] else ""),
            r["source"] or "",
            r["reason"][:100],
            r["payload"][:60],
        )
    output_console().print(table)  # piped: as wide as the rows need
    return 0


def run_replay(args: argparse.Namespace) -> int:
    try:
        counts = dead_letters.replay(engine(), settings(), utcnow(), args.ids or None)
    except dead_letters.UnknownDeadLetter as exc:
        raise CliError(f"{exc} (see `bounce-worker dead-letters list --all`)") from None
    print(
        f"replayed {sum(counts.values())}: applied {counts['applied']}, "
        f"duplicates {counts['duplicate']}, still dead {counts['dead_lettered']}"
        + (f", no replayer for their kind {counts['no_replayer']}" if counts["no_replayer"] else "")
    )
    return 0


def run_discard(args: argparse.Namespace) -> int:
    ids = list(dict.fromkeys(args.ids))  # `discard 12 12` is one dead letter
    eng = engine()
    try:
        gone = dead_letters.discard(eng, ids)
    except dead_letters.UnknownDeadLetter as exc:
        raise CliError(f"{exc} (see `bounce-worker dead-letters list --all`)") from None
    audit.record(
        eng, audit.Who.administrator(), "dead-letters discard", "done", now=utcnow(),
        target=f"dead letters {', '.join(map(str, ids))}", reason=args.reason,
        detail=f"discarded {gone}",
    )  # fmt: skip
    print(f"discarded {gone} dead letter{'' if gone == 1 else 's'}: {', '.join(map(str, ids))}")
    return 0
