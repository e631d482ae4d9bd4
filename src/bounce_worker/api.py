"""The Python API for sending platforms: "may I send to this address, and if not, why?"."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from bounce_worker.config import settings
from bounce_worker.domain.addresses import address_key, domain_of, normalize_recipient
from bounce_worker.domain.events import format_instant
from bounce_worker.domain.policy import STRENGTH, Scope, State
from bounce_worker.store.db import get_engine
from bounce_worker.store.models import EntryRow
from bounce_worker.store.uow import UnitOfWork


@dataclass
class Verdict:
    address: str
    channel: str
    state: str
    reason: str | None
    blocked_until: str | None
    temporary_block_count: int
    entries: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def may_send(self) -> bool:
        return self.state == State.ACTIVE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"may_send": self.may_send}


def check(
    address: str,
    *,
    channel: str = "email",
    organization: str | None = None,
    list: str | None = None,
    engine: Engine | None = None,
) -> Verdict:
    """The effective state for a send to `address` by `organization` (and its `list`):
    the strongest of the global, organization, list and domain entries that apply."""
    engine = engine or get_engine(settings().database_url)
    display = normalize_recipient(address, channel)
    key = address_key(display)
    with UnitOfWork(engine) as uow:
        rows = [r for r in uow.entries_for(channel, key) if applies(r, organization, list)]
        domain = domain_of(key) if channel == "email" else None
        if domain:
            rows += [r for r in uow.entries_for("domain", domain) if applies(r, organization, list)]
        transitions = uow.transitions_for([r.id for r in rows]) if rows else []
    by_id = {r.id: r for r in rows}
    ruling = max(rows, key=lambda r: STRENGTH[State(r.state)], default=None)
    global_row = next((r for r in rows if r.channel == channel and r.scope == Scope.GLOBAL), None)
    state = ruling.state if ruling else State.ACTIVE
    return Verdict(
        address=display,
        channel=channel,
        state=str(state),
        reason=ruling.reason if ruling and state != State.ACTIVE else None,
        blocked_until=format_instant(ruling.blocked_until)
        if ruling and state == State.TEMPORARILY_BLOCKED
        else None,
        temporary_block_count=global_row.temp_block_count if global_row else 0,
        entries=[entry_dict(r) for r in rows],
        transitions=[
            {
                "scope": by_id[t.entry_id].scope,
                "from": t.from_state,
                "to": t.to_state,
                "reason": t.reason,
                "occurred_at": format_instant(t.occurred_at),
                "diagnostic": t.diagnostic,
                "event_id": t.event_id,
                "actor": t.actor,
                "note": t.note,
            }
            for t in transitions
        ],
    )


def applies(row: EntryRow, organization: str | None, list_id: str | None) -> bool:
    if row.scope == Scope.GLOBAL:
        return True
    if row.scope == Scope.ORGANIZATION:
        return organization is not None and row.organization == organization
    return organization is not None and row.organization == organization and row.list == list_id


def entry_dict(row: EntryRow) -> dict[str, Any]:
    return {
        "channel": row.channel,
        "address": row.display_address,
        "scope": row.scope,
        "organization": row.organization or None,
        "list": row.list or None,
        "state": row.state,
        "reason": row.reason,
        "blocked_until": format_instant(row.blocked_until),
        "temporary_block_count": row.temp_block_count,
        "soft_bounce_count": row.soft_bounce_count,
        "deleted": row.deleted_at is not None,
        "updated_at": format_instant(row.updated_at),
    }


def suppressions(
    *, engine: Engine | None = None, organization: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Entries that stop a send (any state but active), newest change first."""
    engine = engine or get_engine(settings().database_url)
    stmt = select(EntryRow).where(EntryRow.state != State.ACTIVE)
    if organization is not None:
        stmt = stmt.where(EntryRow.organization == organization)
    stmt = stmt.order_by(EntryRow.updated_at.desc(), EntryRow.id.desc()).limit(limit)
    with UnitOfWork(engine) as uow:
        return [entry_dict(row) for row in uow.session.scalars(stmt)]
