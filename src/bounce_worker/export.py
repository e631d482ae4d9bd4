"""Export suppressions to CSV, streaming: constant memory for millions of rows.

Rows are read in keyset pages (WHERE id > last ORDER BY id LIMIT n), each page its own short
read: nothing holds SQLite's write lock or a PostgreSQL snapshot for the length of a big
export, and memory stays one page. Deleted and forgotten entries are left out: deleted ones
are hidden on purpose (still enforced), forgotten ones have no address left to export.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from sqlalchemy import Engine, Select, and_, func, select

from bounce_worker.domain.events import format_instant
from bounce_worker.domain.targets import FORGOTTEN_PREFIX
from bounce_worker.store.models import EntryRow, TransitionRow

PAGE = 5000
COLUMNS = ["address", "channel", "scope", "organization", "list", "state", "reason", "since",
           "blocked_until", "last_diagnostic", "last_detail"]  # fmt: skip

_t = TransitionRow
# When the entry entered its current state: its latest transition that changed the state.
_SINCE = (
    select(func.max(_t.occurred_at))
    .where(_t.entry_id == EntryRow.id, _t.to_state == EntryRow.state, _t.from_state != _t.to_state)
    .scalar_subquery()
)
# The MTA's latest words about the address (the transitions' entry_id index finds them).
_LAST_DIAGNOSTIC = (
    select(_t.diagnostic)
    .where(_t.entry_id == EntryRow.id, _t.diagnostic.is_not(None))
    .order_by(_t.id.desc())
    .limit(1)
    .scalar_subquery()
)

# The fine reason of the latest bounce on the entry (domain/rules/reasons.py), e.g. user_unknown.
_LAST_DETAIL = (
    select(_t.detail)
    .where(_t.entry_id == EntryRow.id, _t.detail.is_not(None))
    .order_by(_t.id.desc())
    .limit(1)
    .scalar_subquery()
)


def _query(states: Sequence[str], channel: str | None, organization: str | None) -> Select[Any]:
    where = [
        EntryRow.state.in_(states),
        EntryRow.deleted_at.is_(None),
        ~EntryRow.address.startswith(FORGOTTEN_PREFIX, autoescape=True),
    ]
    if channel:
        where.append(EntryRow.channel == channel)
    if organization is not None:
        where.append(EntryRow.organization == organization)
    return select(EntryRow.id).where(and_(*where))


def count(engine: Engine, states: Sequence[str], channel: str | None, org: str | None) -> int:
    with engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(_query(states, channel, org).subquery()))
            or 0
        )


def rows(
    engine: Engine,
    states: Sequence[str],
    channel: str | None = None,
    organization: str | None = None,
    email_only: bool = False,
) -> Iterator[list[Any]]:
    """The export's rows (without header), page by page."""
    base = _query(states, channel, organization)
    if email_only:
        cols: list[Any] = [EntryRow.display_address]
    else:
        cols = [EntryRow.display_address, EntryRow.channel, EntryRow.scope,
                EntryRow.organization, EntryRow.list, EntryRow.state, EntryRow.reason,
                _SINCE, EntryRow.blocked_until, _LAST_DIAGNOSTIC, _LAST_DETAIL]  # fmt: skip
    stmt = base.with_only_columns(EntryRow.id, *cols).order_by(EntryRow.id).limit(PAGE)
    last = 0
    while True:
        with engine.connect() as conn:
            page = conn.execute(stmt.where(EntryRow.id > last)).all()
        if not page:
            return
        last = page[-1][0]
        for row in page:
            yield [format_instant(v) if hasattr(v, "tzinfo") else v for v in row[1:]]


def write_csv(
    engine: Engine,
    out: IO[str],
    states: Sequence[str],
    channel: str | None = None,
    organization: str | None = None,
    email_only: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    writer = csv.writer(out)
    writer.writerow(["address"] if email_only else COLUMNS)
    written = 0
    for row in rows(engine, states, channel, organization, email_only):
        writer.writerow(row)
        written += 1
        if progress and written % PAGE == 0:
            progress(written)
    return written
