"""The event writer's store on SQLite (the embedded default): the same calls as
writer_pg.py, as plain executemany statements on one connection. SQLite has no round
trips to save, and one writer at a time already (BEGIN IMMEDIATE, db.py), so no key locks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, insert, select, tuple_, update
from sqlalchemy.dialects.sqlite import insert as upsert

from bounce_worker.store.keys import KEY_NAMES, EntryKey, key_dict
from bounce_worker.store.models import (
    DeadLetterRow,
    DeliveryRow,
    EntryRow,
    ProcessedEventRow,
    TransitionRow,
)
from bounce_worker.store.writer import (
    STATE_COLUMNS,
    Claimed,
    DeadLetter,
    DeliveryFacts,
    EntryRecord,
    dead_letter_row,
    new_entry,
    record_from,
)

ENTRIES: Table = EntryRow.__table__  # type: ignore[assignment]
DELIVERIES: Table = DeliveryRow.__table__  # type: ignore[assignment]
PROCESSED: Table = ProcessedEventRow.__table__  # type: ignore[assignment]
TRANSITIONS: Table = TransitionRow.__table__  # type: ignore[assignment]
DEAD: Table = DeadLetterRow.__table__  # type: ignore[assignment]

_CLAIM = upsert(PROCESSED).on_conflict_do_nothing().returning(PROCESSED.c.event_id)
_CREATE = upsert(ENTRIES).on_conflict_do_nothing().returning(*(ENTRIES.c[n] for n in KEY_NAMES))
_KEY = tuple_(*(ENTRIES.c[n] for n in KEY_NAMES))
_WRITE = update(ENTRIES).where(ENTRIES.c.id == bindparam("_id"))
_DELIVER = upsert(DELIVERIES)
_DELIVER = _DELIVER.on_conflict_do_update(
    index_elements=[c.name for c in DELIVERIES.primary_key],
    set_={"last_delivered_at": _DELIVER.excluded.last_delivered_at},
    where=DELIVERIES.c.last_delivered_at < _DELIVER.excluded.last_delivered_at,
)
_DEAD = insert(DEAD).returning(DEAD.c.id)


class SqliteEventStore:
    """One transaction for a batch, on one pooled connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> SqliteEventStore:
        self.conn = self.engine.connect()
        self.tx = self.conn.begin()
        self.transitions: list[dict[str, Any]] = []
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()  # rolls back whatever was not committed

    def claim_and_lock(
        self,
        claims: Sequence[tuple[str, str]],
        creates: Mapping[EntryKey, str],
        touches: set[EntryKey],
        now: datetime,
    ) -> Claimed:
        params = [{"event_id": i, "payload": p, "processed_at": now} for i, p in claims]
        claimed = Claimed(set(self.conn.execute(_CLAIM, params).scalars()) if params else set())
        if creates:
            new = [new_entry(k, creates[k], now) for k in sorted(creates)]
            claimed.created.update(EntryKey(*r) for r in self.conn.execute(_CREATE, new))
        for part in _chunks(sorted(touches.union(creates))):
            stmt = select(*ENTRIES.c).where(_KEY.in_([tuple(key_dict(k).values()) for k in part]))
            for values in self.conn.execute(stmt):
                record = record_from(values._mapping)
                claimed.rows[record.key()] = record
        return claimed

    def restart(self) -> None:
        self.tx.rollback()
        self.tx = self.conn.begin()
        self.transitions = []

    def record_transition(self, **fields: Any) -> None:
        self.transitions.append(fields)  # written by write_back, with the entries

    def write_back(self, rows: Sequence[EntryRecord], deliveries: DeliveryFacts) -> None:
        if deliveries:
            names = [c.name for c in DELIVERIES.c]
            facts = [dict(zip(names, (*k, *t), strict=True)) for k, t in sorted(deliveries.items())]
            self.conn.execute(_DELIVER, facts)
        if rows:
            entries = [{n: getattr(r, n) for n in STATE_COLUMNS} | {"_id": r.id} for r in rows]
            self.conn.execute(_WRITE, entries)
        if self.transitions:
            self.conn.execute(insert(TRANSITIONS), self.transitions)
        self.transitions = []

    def add_dead_letters(
        self, letters: Sequence[DeadLetter], now: datetime, replay_of: int | None
    ) -> list[int]:
        rows = [dead_letter_row(letter, now) for letter in letters]
        if replay_of is not None:
            for row in rows:
                refile = update(DEAD).where(DEAD.c.id == replay_of)
                self.conn.execute(refile, {"reason": row["reason"]})
            return [replay_of] * len(rows)
        return [self.conn.execute(_DEAD, row).scalar_one() for row in rows]

    def commit(self) -> None:
        self.tx.commit()


def _chunks(items: Sequence[EntryKey], size: int = 5000) -> Iterator[Sequence[EntryKey]]:
    """SQLite's 32766 bind parameters (5 per key) bound the tuple IN list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
