"""What the console pages show, read straight from the tables in a few indexed queries each.

Every query is bounded so a page costs the same on 1,000 or 1,000,000 entries: the contact
card reads one address's entries by the unique key and their transitions by entry id; the
suppression list pages by keyset (`id < last`), never OFFSET, and counts nothing; the
statistics read the nightly snapshots (`recalculation_stats`) and group one organization's
suppressed entries through `ix_entries_org_channel_state`. Who may see what is decided by
the caller (`organization` is forced to an owner's own)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, Select, desc, func, select

from bounce_worker import contacts as contact_links
from bounce_worker import lookup
from bounce_worker.domain.effective import applies, ruling
from bounce_worker.domain.policy import STRENGTH, Scope, State
from bounce_worker.domain.targets import FORGOTTEN_PREFIX, Target, forgotten_hasher, parse_target
from bounce_worker.store.models import (
    DeadLetterRow,
    EntryRow,
    RecalculationStatRow,
    TransitionRow,
)
from bounce_worker.store.uow import UnitOfWork

PAGE_SIZE = 50
STATES = tuple(str(s) for s in sorted(State, key=lambda s: STRENGTH[s], reverse=True))
SCOPES = tuple(str(s) for s in Scope)
CHANNELS = ("email", "sms", "domain")


class BadFilter(ValueError):
    """A filter value that cannot be used; the message says which, in one line."""


# -- the contact card ------------------------------------------------------------------------


@dataclass
class Card:
    target: Target
    organization: str | None
    list: str | None
    state: str
    reason: str | None
    blocked_until: datetime | None
    ruling: EntryRow | lookup.Hit | None
    escalation: int  # temporary blocks in a row (the global entry's ladder step)
    mta_reply: str | None  # the MTA's latest words about the address
    entries: list[EntryRow] = field(default_factory=list)
    # Robinson lists holding the address (robinson.py): not entries, nothing to lift.
    lists: list[lookup.Hit] = field(default_factory=list)
    timeline: list[tuple[EntryRow, TransitionRow]] = field(default_factory=list)  # newest first
    timeline_cut: bool = False  # older transitions exist beyond the shown ones
    # The same person's addresses and phones (contact links), each with its state.
    contacts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def display(self) -> str:
        """The address as first recorded (entries keep that spelling), else as searched."""
        own = (r.display_address for r in self.entries if r.channel == self.target.channel)
        return next((a for a in own if not a.startswith(FORGOTTEN_PREFIX)), self.target.display)

    @property
    def may_send(self) -> bool:
        return self.state == State.ACTIVE


def find_target(text: str) -> Target:
    """An address in any spelling: email (any case, IDNA domain), phone, or a domain."""
    return parse_target(text)


def card(
    engine: Engine,
    target: Target,
    *,
    organization: str | None,
    list_id: str | None,
    visible_to: str | None,
    secret: str | None,
) -> Card:
    """The effective state for a send by (organization, list), every entry bearing on the
    address that the viewer may see (`visible_to`: an owner's organization; None: all), and
    their whole history as a timeline."""
    channel = target.channel
    hashed = forgotten_hasher(secret, channel) if secret and channel != "domain" else None
    pairs = (
        lookup.candidate_keys(channel, target.key, hashed)
        if channel != "domain"
        else [("domain", target.key)]
    )
    with UnitOfWork(engine) as uow:
        rows = [row for ch, key in pairs for row in uow.entries_for(ch, key)]
        rows = [
            r for r in rows
            if visible_to is None or r.scope == Scope.GLOBAL or r.organization == visible_to
        ]  # fmt: skip
        history = _newest_transitions(uow, [r.id for r in rows]) if rows else []
    lists = [
        h for h in lookup.robinson_hits(engine, channel, [target.key]).get(target.key, [])
        if visible_to is None or not h.organization or h.organization == visible_to
    ]  # fmt: skip
    ruler: Any = ruling([*rows, *lists], organization, list_id)
    state = ruler.state if ruler else str(State.ACTIVE)
    by_id = {r.id: r for r in rows}
    timeline = [(by_id[t.entry_id], t) for t in history[:TIMELINE]]
    reply = next((t.diagnostic for _, t in timeline if t.diagnostic), None)
    global_row = next((r for r in rows if r.scope == Scope.GLOBAL and r.channel == channel), None)
    rows.sort(key=lambda r: (not applies(r, organization, list_id), -STRENGTH[State(r.state)]))
    return Card(
        target=target,
        organization=organization,
        list=list_id,
        state=state,
        reason=ruler.reason if ruler and state != State.ACTIVE else None,
        blocked_until=ruler.blocked_until if ruler and state == State.TEMPORARILY_BLOCKED else None,
        ruling=ruler if state != State.ACTIVE else None,
        escalation=global_row.temp_block_count if global_row else 0,
        mta_reply=reply,
        entries=rows,
        lists=lists,
        timeline=timeline,
        timeline_cut=len(history) > TIMELINE,
        contacts=(
            contact_links.card(
                engine,
                channel,
                target.display,
                visible_to=visible_to or organization,
                platform_wide=visible_to is None,
            )
            if channel != "domain"
            else []
        ),
    )


TIMELINE = 200  # newest transitions on a card: a hot address's page stays small


def _newest_transitions(uow: UnitOfWork, ids: list[int]) -> list[TransitionRow]:
    t = TransitionRow
    stmt = (
        select(t).where(t.entry_id.in_(ids))
        .order_by(desc(t.occurred_at), desc(t.id)).limit(TIMELINE + 1)
    )  # fmt: skip
    return list(uow.session.scalars(stmt))


# -- the suppression list ------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    channel: str = ""
    state: str = ""
    reason: str = ""
    scope: str = ""
    organization: str | None = None  # None: every organization (support only)
    list: str = ""
    since: date | None = None  # last change on or after this day (UTC)
    until: date | None = None  # last change on or before this day (UTC)

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (empty ones left out)."""
        out = {
            "channel": self.channel, "state": self.state, "reason": self.reason,
            "scope": self.scope, "organization": self.organization or "", "list": self.list,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }  # fmt: skip
        return {k: v for k, v in out.items() if v}


def _filtered(f: Filters) -> Select[Any]:
    e = EntryRow
    where: list[Any] = [e.deleted_at.is_(None)]
    # The list shows suppressions: an active entry stops nothing (it is history only).
    where.append(e.state == f.state if f.state else e.state != State.ACTIVE)
    if f.channel:
        where.append(e.channel == f.channel)
    if f.reason:
        where.append(e.reason == f.reason)
    if f.scope:
        where.append(e.scope == f.scope)
    if f.organization is not None:
        where.append(e.organization == f.organization)
    if f.list:
        where.append(e.list == f.list)
    if f.since:
        where.append(e.updated_at >= datetime.combine(f.since, time.min, tzinfo=UTC))
    if f.until:
        where.append(
            e.updated_at < datetime.combine(f.until + timedelta(days=1), time.min, tzinfo=UTC)
        )
    return select(e).where(*where)


@dataclass
class Page:
    rows: list[EntryRow]
    newer: int | None  # `before` cursor for the previous page (None: this is the first)
    older: int | None  # `after` cursor for the next page (None: this is the last)


def page(
    engine: Engine,
    f: Filters,
    *,
    after: int | None = None,
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """One page, newest entry first. Keyset: `after` = the last id shown (next page),
    `before` = the first id shown (previous page). One row more than shown tells whether
    there is another page, so nothing is ever counted."""
    stmt = _filtered(f)
    if before is not None:
        stmt = stmt.where(EntryRow.id > before).order_by(EntryRow.id).limit(size + 1)
    else:
        if after is not None:
            stmt = stmt.where(EntryRow.id < after)
        stmt = stmt.order_by(desc(EntryRow.id)).limit(size + 1)
    with UnitOfWork(engine) as uow:
        rows = list(uow.session.scalars(stmt))
    more = len(rows) > size
    rows = rows[:size]
    if before is not None:
        rows.reverse()
        newer = rows[0].id if rows and more else None
        older = rows[-1].id if rows else None
    else:
        newer = rows[0].id if rows and after is not None else None
        older = rows[-1].id if rows and more else None
    return Page(rows, newer, older)


def export_rows(
    engine: Engine, f: Filters, *, email_only: bool, chunk: int = 5000
) -> Iterator[list[Any]]:
    """The filtered view for CSV, in keyset chunks (each its own short read): constant
    memory for millions of rows. Forgotten addresses have nothing left to export."""
    last: int | None = None
    base = _filtered(f).where(~EntryRow.address.startswith(FORGOTTEN_PREFIX, autoescape=True))
    while True:
        stmt = base if last is None else base.where(EntryRow.id < last)
        with UnitOfWork(engine) as uow:
            rows = list(uow.session.scalars(stmt.order_by(desc(EntryRow.id)).limit(chunk)))
        if not rows:
            return
        for r in rows:
            if email_only:
                yield [r.display_address]
            else:
                yield [
                    r.display_address, r.channel, r.scope, r.organization, r.list, r.state,
                    r.reason or "", _iso(r.blocked_until), _iso(r.updated_at),
                ]  # fmt: skip
        last = rows[-1].id


EXPORT_COLUMNS = ["address", "channel", "scope", "organization", "list", "state", "reason",
                  "blocked_until", "updated_at"]  # fmt: skip


# -- statistics -------------------------------------------------------------------------------


@dataclass
class Stats:
    computed_at: datetime | None
    latest: list[RecalculationStatRow]
    history: list[tuple[datetime, dict[str, int]]]  # per snapshot: totals per state
    reasons: list[tuple[str, str, str, int]]  # channel, state, reason, count
    dead_letters: list[DeadLetterRow]
    dead_letters_pending: int


HISTORY_SNAPSHOTS = 92  # the chart: a quarter of nightly recalculations
SUPPRESSED = ("temporarily_blocked", "blacklisted", "blocked")


def stats(engine: Engine, organization: str | None, *, dead_letters: bool) -> Stats:
    """`organization`: one organization's figures and the global ones that apply to its
    sends ('' = the global entries only); None = every organization."""
    r = RecalculationStatRow
    orgs = None if organization is None else sorted({organization, ""})
    with UnitOfWork(engine) as uow:
        s = uow.session
        stamps = list(
            s.scalars(
                select(r.computed_at).group_by(r.computed_at)
                .order_by(desc(r.computed_at)).limit(HISTORY_SNAPSHOTS)
            )
        )  # fmt: skip
        latest: list[RecalculationStatRow] = []
        history: list[tuple[datetime, dict[str, int]]] = []
        if stamps:
            q = select(r).where(r.computed_at == stamps[0])
            if orgs is not None:
                q = q.where(r.organization.in_(orgs))
            latest = list(s.scalars(q.order_by(r.organization, r.channel)))
            sums = [func.sum(getattr(r, c)) for c in (*SUPPRESSED, "lost", "never_sent")]
            h = select(r.computed_at, *sums).where(r.computed_at >= stamps[-1])
            if orgs is not None:
                h = h.where(r.organization.in_(orgs))
            for at, *figures in s.execute(h.group_by(r.computed_at).order_by(r.computed_at)):
                names = (*SUPPRESSED, "lost", "never_sent")
                history.append((at, {n: int(v or 0) for n, v in zip(names, figures, strict=True)}))
        reasons: list[tuple[str, str, str, int]] = []
        if organization is not None:
            e = EntryRow
            # One organization's suppressed entries, through ix_entries_org_channel_state.
            q2 = (
                select(e.channel, e.state, e.reason, func.count())
                .where(e.organization == organization, e.state.in_(SUPPRESSED))
                .group_by(e.channel, e.state, e.reason)
                .order_by(e.channel, e.state, desc(func.count()))
            )
            reasons = [(c, st, rs or "", int(n)) for c, st, rs, n in s.execute(q2)]
        letters: list[DeadLetterRow] = []
        pending = 0
        if dead_letters:
            d = DeadLetterRow
            letters = list(
                s.scalars(
                    select(d).where(d.replayed_at.is_(None))
                    .order_by(desc(d.received_at), desc(d.id)).limit(20)
                )
            )  # fmt: skip
            pending = int(
                s.scalar(
                    select(func.count()).select_from(
                        select(d.id).where(d.replayed_at.is_(None)).limit(10_001).subquery()
                    )
                )
                or 0
            )
    return Stats(stamps[0] if stamps else None, latest, history, reasons, letters, pending)


def organizations(engine: Engine, limit: int = 500) -> list[str]:
    """Organizations known to the figures (for the support's organization picker)."""
    r = RecalculationStatRow
    with UnitOfWork(engine) as uow:
        return [
            o for o in uow.session.scalars(
                select(r.organization).group_by(r.organization).order_by(r.organization).limit(limit)
            )
            if o
        ]  # fmt: skip


def _iso(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def parse_day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(f"{name} must be a date like 2026-11-30, got {raw[:40]!r}") from None
