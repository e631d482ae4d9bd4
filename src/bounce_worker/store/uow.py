"""The unit of work (an ORM Session in one transaction) for the operator use cases and
the readers. Events are not written here: apply.py and store/writer*.py are their writer.

Concurrency: an entry is locked as every writer locks it (store/keys.py): the key's
advisory lock first (PostgreSQL), then the row (SELECT ... FOR UPDATE); a new one is
created with an atomic upsert. SQLite serializes all writers with BEGIN IMMEDIATE (db.py).
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bounce_worker.store.keys import KEY_NAMES, LOCK_CLASS, WIDE_LOCK, EntryKey, lock_id, storable
from bounce_worker.store.models import (
    DeadLetterRow,
    EntryRow,
    TransitionRow,
)
from bounce_worker.store.writer import new_entry

__all__ = ["KEY_NAMES", "EntryKey", "UnitOfWork", "storable"]

_KEY_LOCK = text(
    "SELECT pg_advisory_xact_lock_shared(CAST(:wide_cls AS int), CAST(:wide_id AS int)), "
    "pg_advisory_xact_lock(CAST(:cls AS int), CAST(:key AS int))"
)  # the wide lock shared, then the key's (store/keys.py)


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
        if for_update and self.engine.dialect.name == "postgresql":
            wide_cls, wide_id = WIDE_LOCK
            self.session.execute(
                _KEY_LOCK,
                {"wide_cls": wide_cls, "wide_id": wide_id, "cls": LOCK_CLASS, "key": lock_id(key)},
            )
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
        """A transition from its column values (apply.record_transition's sink)."""
        self.add_transition(TransitionRow(**fields))

    def transitions_for(self, entry_ids: list[int]) -> list[TransitionRow]:
        stmt = (
            select(TransitionRow)
            .where(TransitionRow.entry_id.in_(entry_ids))
            .order_by(TransitionRow.occurred_at, TransitionRow.id)
        )
        return list(self.session.scalars(stmt))

    # -- deliveries and dead letters -----------------------------------------------------

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
