"""The event writer's store on SQLite (the embedded default): the same calls as
writer_pg.py, as plain executemany statements on one connection. SQLite has no round
trips to save, and one writer at a time already (BEGIN IMMEDIATE, db.py), so no key locks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, Table, bindparam, insert, select, tuple_, update
from sqlalchemy.dialects.sqlite import insert as upsert

from bounce_worker.store import writer
from bounce_worker.store.keys import KEY_NAMES, EntryKey, key_dict
from bounce_worker.store.models import (
    DeadLetterRow,
    DeliveryRow,
    EntryRow,
    ProcessedEventRow,
    TransitionRow,
)
from bounce_worker.store.writer import STATE_COLUMNS, Claimed, DeliveryFacts, EntryRecord, Wanted

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
_REFILE = update(DEAD).where(DEAD.c.id == bindparam("_id"))


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

    def claim_and_lock(self, wanted: Wanted) -> Claimed:
        claims, creates, touches, now = wanted
        params = [{"event_id": i, "payload": p, "processed_at": now} for i, p in claims]
        claimed = Claimed(set(self.conn.execute(_CLAIM, params).scalars()) if params else set())
        new: dict[EntryKey, dict[str, Any]] = {}
        for event_id, key, display in creates:  # a claimed event's; the first one's display
            if event_id in claimed.event_ids and key not in new:
                new[key] = writer.new_entry(key, display, now)
        if new:
            rows = [new[k] for k in sorted(new)]
            claimed.created.update(EntryKey(*r) for r in self.conn.execute(_CREATE, rows))
        for part in _chunks(sorted(touches.union(new))):
            stmt = select(*ENTRIES.c).where(_KEY.in_([tuple(key_dict(k).values()) for k in part]))
            for values in self.conn.execute(stmt):
                record = writer.record_from(values._mapping)
                claimed.rows[record.key()] = record
        return claimed

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

    def add_dead_letter(self, row: Mapping[str, Any]) -> int:
        return int(self.conn.execute(_DEAD, row).scalar_one())

    def refile(self, dead_letter_id: int, reason: str) -> None:
        self.conn.execute(_REFILE, {"_id": dead_letter_id, "reason": reason})

    def commit(self) -> None:
        self.tx.commit()


def _chunks(items: Sequence[EntryKey], size: int = 5000) -> Iterator[Sequence[EntryKey]]:
    """SQLite's 32766 bind parameters (5 per key) bound the tuple IN list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
