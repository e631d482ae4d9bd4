"""A unit of work for many events at once: a few set-based statements per batch.

`bulk_unit_of_work(engine)` gives the one for the engine's database: `bulk_pg` on
PostgreSQL (two round trips per batch), `SqliteBulkUnitOfWork` below for the embedded
single-process default (plain executemany through the Session; SQLite has no round trips
to save). Both take the same calls from `batch.apply_events`:

    claim_and_lock -> (restart, when some events were duplicates) -> record_transition
    -> write_back -> add_dead_letters -> commit

Locks are taken in sorted order (event ids, then entry keys), so workers applying
overlapping batches wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, insert, select, tuple_, update

from bounce_worker.store.models import EntryRow, ProcessedEventRow, TransitionRow
from bounce_worker.store.uow import KEY_NAMES, EntryKey, UnitOfWork, new_entry

# Entry columns the policy changes (service.write_entry), written back after a batch.
STATE_COLUMNS = (
    "state",
    "reason",
    "blocked_until",
    "temp_block_count",
    "temp_block_last_end",
    "soft_bounce_count",
    "updated_at",
)
TRANSITION_COLUMNS = (
    "entry_id",
    "from_state",
    "to_state",
    "reason",
    "event_id",
    "diagnostic",
    "occurred_at",
    "recorded_at",
)
# (channel, address, organization) -> (first, last) delivery seen in the batch.
DeliveryFacts = Mapping[tuple[str, str, str], tuple[datetime, datetime]]


class EntryRecord:
    """An entry row as plain attributes: what the policy reads and writes in a batch.

    Not an ORM object: SQLAlchemy's instrumentation costs ~100 us per event applied, more
    than the SQL; `write_back` stores the changed ones in one statement."""

    __slots__ = tuple(c.name for c in EntryRow.__table__.c)

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    def key(self) -> EntryKey:
        return EntryKey(self.channel, self.address, self.scope, self.organization, self.list)


@dataclass
class Claimed:
    """What `claim_and_lock` got: the event ids that were new, the locked entries by key
    (the policy edits them in memory, `write_back` stores them) and the keys it created."""

    event_ids: set[str]
    rows: dict[EntryKey, EntryRecord] = field(default_factory=dict)
    created: set[EntryKey] = field(default_factory=set)


class BulkUnitOfWork(Protocol):
    def __enter__(self) -> BulkUnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def claim_and_lock(
        self,
        claims: Sequence[tuple[str, str]],
        creates: Mapping[EntryKey, str],
        touches: set[EntryKey],
        now: datetime,
    ) -> Claimed: ...
    def restart(self) -> None: ...
    def record_transition(self, **fields: Any) -> None: ...
    def write_back(self, rows: Sequence[EntryRecord], deliveries: DeliveryFacts) -> None: ...
    def add_dead_letters(
        self, letters: Sequence[tuple[str, str | None, bytes, str]], now: datetime
    ) -> list[int]: ...
    def commit(self) -> None: ...


def bulk_unit_of_work(engine: Engine) -> BulkUnitOfWork:
    if engine.dialect.name == "postgresql":
        from bounce_worker.store.bulk_pg import PgBulkUnitOfWork

        return PgBulkUnitOfWork(engine)
    return SqliteBulkUnitOfWork(engine)


class SqliteBulkUnitOfWork(UnitOfWork):
    """SQLite: one writer at a time already (BEGIN IMMEDIATE), so no lock ordering."""

    def __enter__(self) -> SqliteBulkUnitOfWork:
        super().__enter__()
        self.transitions: list[dict[str, Any]] = []
        return self

    def claim_and_lock(
        self,
        claims: Sequence[tuple[str, str]],
        creates: Mapping[EntryKey, str],
        touches: set[EntryKey],
        now: datetime,
    ) -> Claimed:
        conn = self.session.connection()
        table = ProcessedEventRow.__table__
        stmt = self._insert(table).on_conflict_do_nothing().returning(table.c.event_id)
        params = [{"event_id": i, "payload": p, "processed_at": now} for i, p in claims]
        claimed = Claimed(set(conn.execute(stmt, params).scalars()) if params else set())
        if creates:
            table = EntryRow.__table__
            stmt = self._insert(table).on_conflict_do_nothing()
            stmt = stmt.returning(*(table.c[n] for n in KEY_NAMES))
            params = [new_entry(k, creates[k], now) for k in sorted(creates)]
            claimed.created.update(EntryKey(*r) for r in conn.execute(stmt, params))
        columns = EntryRow.__table__.c
        key = tuple_(*(columns[n] for n in KEY_NAMES))
        for part in _chunks(sorted(touches.union(creates))):
            stmt = select(*columns).where(key.in_([tuple(key_dict(k).values()) for k in part]))
            for values in conn.execute(stmt):
                record = record_from(values._mapping)
                claimed.rows[record.key()] = record
        return claimed

    def restart(self) -> None:
        self.session.rollback()
        self.session.begin()
        self.transitions = []

    def record_transition(self, **fields: Any) -> None:
        self.transitions.append(fields)  # written by write_back, with the entries

    def write_back(self, rows: Sequence[EntryRecord], deliveries: DeliveryFacts) -> None:
        for (channel, address, organization), times in sorted(deliveries.items()):
            for at in times:  # the first one inserts, the last one moves last_delivered_at
                self.record_delivery(channel, address, organization, at)
        conn = self.session.connection()
        if rows:
            table = EntryRow.__table__
            stmt = update(table).where(table.c.id == bindparam("_id"))
            entries = [{n: getattr(r, n) for n in STATE_COLUMNS} | {"_id": r.id} for r in rows]
            conn.execute(stmt, entries)
        if self.transitions:
            conn.execute(insert(TransitionRow.__table__), self.transitions)
        self.transitions = []

    def add_dead_letters(
        self, letters: Sequence[tuple[str, str | None, bytes, str]], now: datetime
    ) -> list[int]:
        """Many (kind, source, payload, reason) at once (rare: no fast path); their ids."""
        return [self.add_dead_letter(k, s, p, r, now) for k, s, p, r in letters]


def record_from(values: Mapping[str, Any]) -> EntryRecord:
    """An entry from a result row; times as aware UTC (UTCDateTime's contract)."""
    return EntryRecord(
        **{
            n: v.astimezone(UTC) if isinstance(v, datetime) else v
            for n, v in values.items()
            if n != "inserted"
        }
    )


def key_dict(key: EntryKey) -> dict[str, str]:
    return {n: getattr(key, n) for n in KEY_NAMES}


def _chunks(items: Sequence[EntryKey], size: int = 5000) -> Iterator[Sequence[EntryKey]]:
    """SQLite's 32766 bind parameters (5 per key) bound the tuple IN list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
