"""`forget`: erase what is stored about a person, yet keep them suppressed.

Entries move from the address to its keyed hash (HMAC-SHA256 with BOUNCE_WORKER_SECRET_KEY)
and lose their display address, so the address cannot be read back, but a later check or
import of the same address computes the same hash and is still caught. Everything else
that holds the address is erased: event payloads, diagnostics and notes that quote it,
delivery facts, dead-letter payloads. Transitions stay (with the text blanked), so
"why is this contact suppressed?" is still answered.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Engine, delete, select, update

from bounce_worker.apply import record_transition
from bounce_worker.config import ConfigError
from bounce_worker.domain.permissions import Refused
from bounce_worker.domain.policy import STRENGTH, State
from bounce_worker.domain.targets import Target, forgotten_key
from bounce_worker.store.models import (
    ContactLinkRow,
    DeadLetterRow,
    DeliveryRow,
    EntryRow,
    ProcessedEventRow,
    TransitionRow,
)
from bounce_worker.store.uow import EntryKey, UnitOfWork
from bounce_worker.store.writer import to_entry, write_entry

ERASED = "erased on request"


def forget(
    engine: Engine, target: Target, *, actor: str, now: datetime, secret: str | None
) -> Counter[str]:
    """Erase `target`'s personal data in one transaction; returns what was done, by kind."""
    if not secret:
        raise ConfigError("BOUNCE_WORKER_SECRET_KEY is not set: forget needs it to keep the "
                          "address suppressed under a keyed hash")  # fmt: skip
    if target.channel == "domain":
        raise Refused("forget takes an email address or a phone number, not a domain")
    if not actor.strip():
        raise Refused("--actor must name the person acting")
    hashed = forgotten_key(secret, target.channel, target.key)
    done: Counter[str] = Counter()
    with UnitOfWork(engine) as uow:
        for row in uow.entries_for(target.channel, target.key):
            kept = _move(uow, row, hashed, now)
            record_transition(
                uow, kept, kept.state, kept.state, "forgotten", occurred_at=now, now=now,
                actor=actor,
            )  # fmt: skip
            done["entries kept under a keyed hash"] += 1
        _erase_text(uow, target.key, done)
        done["delivery facts deleted"] += uow.session.execute(
            delete(DeliveryRow).where(
                DeliveryRow.channel == target.channel, DeliveryRow.address == target.key
            )
        ).rowcount
        _erase_dead_letters(uow, target.key, done)
        # The address leaves every contact it was linked to (bounce_worker.contacts).
        done["contact links deleted"] += uow.session.execute(
            delete(ContactLinkRow).where(
                ContactLinkRow.channel == target.channel, ContactLinkRow.address == target.key
            )
        ).rowcount
        uow.commit()
    return done


def _move(uow: UnitOfWork, row: EntryRow, hashed: str, now: datetime) -> EntryRow:
    """Re-key the entry; if the hash already has one for this scope (forgotten before and
    suppressed again since), merge into it: the stronger state and all the history."""
    key = EntryKey(row.channel, hashed, row.scope, row.organization, row.list)
    existing = uow.find_entry(key, for_update=True)
    if existing is None:
        row.address, row.display_address, row.updated_at = hashed, "", now
        return row
    if STRENGTH[State(row.state)] > STRENGTH[State(existing.state)]:
        write_entry(existing, to_entry(row), now)
    uow.session.execute(
        update(TransitionRow).where(TransitionRow.entry_id == row.id).values(entry_id=existing.id)
    )
    uow.session.delete(row)
    return existing


def _erase_text(uow: UnitOfWork, key: str, done: Counter[str]) -> None:
    for column in (TransitionRow.diagnostic, TransitionRow.note):
        done["transition texts blanked"] += uow.session.execute(
            update(TransitionRow)
            .where(column.icontains(key, autoescape=True))
            .values({column.key: ERASED})
        ).rowcount
    done["event payloads erased"] += uow.session.execute(
        update(ProcessedEventRow)
        .where(ProcessedEventRow.payload.icontains(key, autoescape=True))
        .values(payload=None)
    ).rowcount


def _erase_dead_letters(uow: UnitOfWork, key: str, done: Counter[str]) -> None:
    # Payloads are bytes exactly as received (any encoding, any case): searched here, in
    # pages, rather than with SQL that differs per database.
    needle = key.encode()
    last = 0
    while True:
        page = uow.session.execute(
            select(DeadLetterRow.id, DeadLetterRow.payload, DeadLetterRow.reason)
            .where(DeadLetterRow.id > last)
            .order_by(DeadLetterRow.id)
            .limit(1000)
        ).all()
        if not page:
            return
        last = page[-1].id
        ids = [r.id for r in page if needle in r.payload.lower() or key in r.reason.lower()]
        if ids:
            done["dead letters erased"] += uow.session.execute(
                update(DeadLetterRow)
                .where(DeadLetterRow.id.in_(ids))
                .values(payload=b"", reason=ERASED)
            ).rowcount
