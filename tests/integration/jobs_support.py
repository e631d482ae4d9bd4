"""Helpers for the nightly-job tests: entries are made by real events through the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from bounce_worker import service
from bounce_worker.domain.events import format_instant
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.store.models import EntryRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
POLICY = PolicySettings()
_counter = iter(range(1, 10**9))


def event(kind: str, recipient: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """A normalized event: full (mailbox full), hard, delivered, complaint, unsubscribe."""
    base: dict[str, Any] = {
        "event_id": f"ev-{next(_counter)}",
        "recipient": recipient,
        "occurred_at": format_instant(at),
    }
    if kind == "full":
        base |= {"type": "bounce", "status": "5.2.2", "diagnostic": "552 5.2.2 mailbox full"}
    elif kind == "hard":
        base |= {"type": "bounce", "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown"}
    else:
        base["type"] = kind
    return base | extra


def feed(engine: Engine, *events: dict[str, Any], now: datetime | None = None) -> None:
    for e in events:
        result = service.process_payload(
            engine, e, source="test", policy=POLICY, now=now or T0 + timedelta(days=400)
        )
        assert result is service.Result.APPLIED, (e, result)


def entry(engine: Engine, address: str, scope: str = "global") -> EntryRow:
    with UnitOfWork(engine) as uow:
        return uow.session.scalars(
            select(EntryRow).where(EntryRow.address == address, EntryRow.scope == scope)
        ).one()


def unlock_transitions(engine: Engine) -> list[TransitionRow]:
    with UnitOfWork(engine) as uow:
        stmt = select(TransitionRow).where(TransitionRow.reason == "block_expired")
        return list(uow.session.scalars(stmt.order_by(TransitionRow.id)))


def count(engine: Engine, model: type) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0
