"""The unit of work: one transaction, and the few queries the service layer needs.

Concurrency: an entry is created with an atomic upsert (INSERT ... ON CONFLICT DO NOTHING)
and then read with SELECT ... FOR UPDATE, so two workers on one address serialize on
PostgreSQL. SQLite serializes all writers with BEGIN IMMEDIATE (see db.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bounce_worker.store.models import (
    DeadLetterRow,
    DeliveryRow,
    EntryRow,
    ProcessedEventRow,
    TransitionRow,
)


@dataclass(frozen=True, order=True, slots=True)
class EntryKey:
    channel: str
    address: str  # case-folded
    scope: str
    organization: str = ""
    list: str = ""


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self.engine, expire_on_commit=False, autoflush=False)
        self.session.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and, unlike rollback(), leaves the
        # loaded objects readable (detached) for the caller.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    # -- idempotency ---------------------------------------------------------------------

    def claim_event(self, event_id: str, now: datetime, payload: str | None) -> bool:
        """True when this event id is new; the claim commits with the event's effects."""
        stmt = (
            self._insert(ProcessedEventRow)
            .values(event_id=event_id, processed_at=now, payload=payload)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(ProcessedEventRow.event_id)
        )
        return self.session.execute(stmt).first() is not None

    # -- entries ---------------------------------------------------------------------------

    def lock_entry(self, key: EntryKey, display: str, now: datetime) -> EntryRow:
        """The entry for `key`, created active if new, locked until commit.

        Most events hit an entry that exists: one SELECT ... FOR UPDATE. A new one is
        inserted and returned by the same statement (a row we inserted is ours until
        commit); only when another worker inserted it in between do we select again."""
        row = self.find_entry(key, for_update=True)
        if row is None:
            insert = (
                self._insert(EntryRow)
                .values(new_entry(key, display, now))
                .on_conflict_do_nothing(index_elements=list(KEY_NAMES))
                .returning(EntryRow)
            )
            row = self.session.scalars(
                select(EntryRow).from_statement(insert),
                execution_options={"populate_existing": True},
            ).first() or self.find_entry(key, for_update=True)
        assert row is not None  # inserted, or found after a concurrent insert
        return row

    def find_entry(self, key: EntryKey, *, for_update: bool = False) -> EntryRow | None:
        stmt = select(EntryRow).where(
            EntryRow.channel == key.channel,
            EntryRow.address == key.address,
            EntryRow.scope == key.scope,
            EntryRow.organization == key.organization,
            EntryRow.list == key.list,
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def entries_for(self, channel: str, address: str) -> list[EntryRow]:
        """Every scope's entry for one address (the caller picks those that apply)."""
        stmt = select(EntryRow).where(EntryRow.channel == channel, EntryRow.address == address)
        return list(self.session.scalars(stmt))

    def add_transition(self, row: TransitionRow) -> None:
        self.session.add(row)

    def record_transition(self, **fields: Any) -> None:
        """A transition from its column values (the policy's path; bulk.py overrides it)."""
        self.add_transition(TransitionRow(**fields))

    def transitions_for(self, entry_ids: list[int]) -> list[TransitionRow]:
        stmt = (
            select(TransitionRow)
            .where(TransitionRow.entry_id.in_(entry_ids))
            .order_by(TransitionRow.occurred_at, TransitionRow.id)
        )
        return list(self.session.scalars(stmt))

    # -- deliveries and dead letters -----------------------------------------------------

    def record_delivery(self, channel: str, address: str, organization: str, at: datetime) -> None:
        stmt = self._insert(DeliveryRow).values(
            channel=channel,
            address=address,
            organization=organization,
            first_delivered_at=at,
            last_delivered_at=at,
        )
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel", "address", "organization"],
            set_={"last_delivered_at": excluded.last_delivered_at},
            where=DeliveryRow.last_delivered_at < excluded.last_delivered_at,
        )
        self.session.execute(stmt)

    def add_dead_letter(
        self, kind: str, source: str | None, payload: bytes, reason: str, now: datetime
    ) -> int:
        row = DeadLetterRow(
            kind=kind,
            source=storable(source) if source else source,
            payload=payload,
            reason=storable(reason)[:2000],
            received_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def set_dead_letter_reason(self, dead_id: int, reason: str) -> None:
        self.session.execute(
            update(DeadLetterRow)
            .where(DeadLetterRow.id == dead_id)
            .values(reason=storable(reason)[:2000])
        )

    def mark_replayed(self, dead_id: int, now: datetime) -> None:
        self.session.execute(
            update(DeadLetterRow).where(DeadLetterRow.id == dead_id).values(replayed_at=now)
        )

    def dead_letters(
        self, ids: list[int] | None = None, *, pending_only: bool = True, limit: int | None = None
    ) -> list[DeadLetterRow]:
        """Dead letters by id, or the newest ones (only those not yet replayed, by default)."""
        stmt = select(DeadLetterRow)
        if ids is not None:
            stmt = stmt.where(DeadLetterRow.id.in_(ids))
        elif pending_only:
            stmt = stmt.where(DeadLetterRow.replayed_at.is_(None))
        stmt = stmt.order_by(DeadLetterRow.id.desc()).limit(limit)
        return list(self.session.scalars(stmt))


def storable(text: str) -> str:
    """Text a PostgreSQL column accepts: a reason quotes bad input, which may hold NUL or a
    lone surrogate; both are written as backslash escapes instead."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


# The unique key of an entry, in EntryKey's field order.
KEY_NAMES = ("channel", "address", "scope", "organization", "list")


def new_entry(key: EntryKey, display: str, now: datetime) -> dict[str, object]:
    """The row a new key starts as: active, no counters."""
    return {
        "channel": key.channel,
        "address": key.address,
        "display_address": display,
        "scope": key.scope,
        "organization": key.organization,
        "list": key.list,
        "state": "active",
        "temp_block_count": 0,
        "soft_bounce_count": 0,
        "updated_at": now,
    }
