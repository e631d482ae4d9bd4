"""Operator use cases: manual entries, lifting, delete/restore, erasure.

Each is one unit of work (store/uow.py), locks its entry as the event writer does (the
key's advisory lock, then the row), and writes through the same helpers as the event
writer (`store.writer.write_entry`, `apply.record_transition`), so a transition written by a person
looks like one written by an event: from, to, reason code, plus the actor and their note.
Who may do what is `domain.permissions`; a refusal raises `Refused` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from bounce_worker import lookup
from bounce_worker.apply import record_transition
from bounce_worker.domain.permissions import (
    Invalid,
    Refused,
    Role,
    check_scope,
    lifted,
    may_hide,
    may_lift,
    may_suppress,
    suppressed,
)
from bounce_worker.domain.policy import Decision, Scope, State
from bounce_worker.domain.targets import Target, forgotten_key
from bounce_worker.store.models import EntryRow
from bounce_worker.store.uow import EntryKey, UnitOfWork
from bounce_worker.store.writer import to_entry, write_entry


class NoEntry(Refused):
    """There is no such entry to lift, delete or restore."""


@dataclass(frozen=True, slots=True)
class Request:
    """Who asks, on whose behalf, why, and which entry: what every operator action carries."""

    target: Target
    scope: Scope
    organization: str | None
    list: str | None
    actor: str
    note: str  # the written reason
    role: Role = Role.SUPPORT

    def key(self) -> EntryKey:
        return EntryKey(
            self.target.channel,
            self.target.key,
            self.scope,
            self.organization or "",
            self.list or "",
        )

    def validate(self) -> None:
        check_scope(self.scope, self.organization, self.list)
        if not self.actor.strip():
            raise Invalid("--actor must name the person acting")
        if not self.note.strip():
            raise Invalid("a written reason (--reason) is required")


@dataclass(frozen=True, slots=True)
class Change:
    entry: str  # "channel address scope[/organization[/list]]"
    from_state: str
    to_state: str
    changed: bool
    message: str


def suppress(
    engine: Engine, req: Request, state: State, *, now: datetime, secret: str | None = None
) -> Change:
    """A manual entry; it raises the state and never weakens one."""
    req.validate()
    may_suppress(req.role, req.scope, state)
    with UnitOfWork(engine) as uow:
        row = _find(uow, req, secret) or uow.lock_entry(req.key(), req.target.display, now)
        change = _apply(uow, row, suppressed(to_entry(row), state), req, now)
        uow.commit()
    if not change.changed:
        hidden = " (deleted: `restore` shows it again)" if row.deleted_at else ""
        return _unchanged(row, f"already {row.state}, unchanged{hidden}")
    return change


def lift(engine: Engine, req: Request, *, now: datetime, secret: str | None = None) -> Change:
    """Back to active, if the role may lift this entry (`Refused` says why not)."""
    req.validate()
    with UnitOfWork(engine) as uow:
        row = _existing(uow, req, secret)
        may_lift(req.role, req.scope, State(row.state))
        change = _apply(uow, row, lifted(to_entry(row)), req, now)
        uow.commit()
    return change


def delete(engine: Engine, req: Request, *, now: datetime, secret: str | None = None) -> Change:
    """Hidden from listings and exports, still enforced (a re-import is still caught)."""
    return _hide(engine, req, True, now, secret)


def restore(engine: Engine, req: Request, *, now: datetime, secret: str | None = None) -> Change:
    return _hide(engine, req, False, now, secret)


def _hide(engine: Engine, req: Request, hide: bool, now: datetime, secret: str | None) -> Change:
    req.validate()
    may_hide(req.role, req.scope)
    with UnitOfWork(engine) as uow:
        row = _existing(uow, req, secret)
        if (row.deleted_at is not None) == hide:
            return _unchanged(row, "already deleted" if hide else "not deleted")
        row.deleted_at = now if hide else None
        row.updated_at = now
        reason = "deleted" if hide else "restored"
        record_transition(
            uow, row, row.state, row.state, reason, occurred_at=now, now=now,
            actor=req.actor, note=req.note,
        )  # fmt: skip
        uow.commit()
    return Change(describe(row), row.state, row.state, True, reason)


def _apply(
    uow: UnitOfWork, row: EntryRow, decision: Decision | None, req: Request, now: datetime
) -> Change:
    if decision is None:
        return _unchanged(row, "unchanged")
    from_state = row.state
    write_entry(row, decision.entry, now)
    record_transition(
        uow, row, from_state, str(decision.to_state), decision.reason, occurred_at=now, now=now,
        actor=req.actor, note=req.note,
    )  # fmt: skip
    return Change(describe(row), from_state, row.state, True, f"{from_state} -> {row.state}")


def _unchanged(row: EntryRow, message: str) -> Change:
    return Change(describe(row), row.state, row.state, False, message)


def _find(uow: UnitOfWork, req: Request, secret: str | None) -> EntryRow | None:
    """The entry under the address, or under its keyed hash if the address was forgotten."""
    key = req.key()
    row = uow.find_entry(key, for_update=True)
    if row is None and not secret and key.channel != "domain":
        lookup.require_secret(uow.session, secret)
    if row is None and secret and key.channel != "domain":
        hashed = forgotten_key(secret, key.channel, key.address)
        row = uow.find_entry(
            EntryKey(key.channel, hashed, key.scope, key.organization, key.list), for_update=True
        )
    return row


def _existing(uow: UnitOfWork, req: Request, secret: str | None) -> EntryRow:
    row = _find(uow, req, secret)
    if row is None:
        raise NoEntry(f"no {req.scope} entry for {req.target.display}{_where(req.key())}")
    return row


def _where(key: EntryKey) -> str:
    return "".join(f" {p}" for p in (key.organization, key.list) if p)


def describe(row: EntryRow) -> str:
    name = row.display_address or "(forgotten address)"
    parts = "/".join(p for p in (row.scope, row.organization, row.list) if p)
    return f"{row.channel} {name} {parts}"
