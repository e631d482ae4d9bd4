"""The storage interface of the one event writer (apply.py), and what both its
implementations share: writer_pg.py (PostgreSQL: two round trips per batch) and
writer_sqlite.py (the embedded default). `open_store(engine)` gives the one for the engine.

A batch is one transaction, always in this order of calls:

    claim_and_lock -> record_transition ... -> write_back -> add_dead_letter / refile ...
    -> commit

Lock order, the same for every writer of events (the worker, `process`, ingestion,
replay): first a transaction-scoped advisory lock per entry key, in ascending order of
`lock_id` (PostgreSQL; SQLite has one writer at a time), then the rows. The operator
use cases (operations.py) take the same key lock before their row (store/uow.py).

Every column list comes from the table definitions (models.py) and the policy's Entry:
a new policy column is a field of `policy.Entry`, a column of `EntryRow` and a migration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Engine

from bounce_worker.domain.policy import Entry, State
from bounce_worker.store.keys import KEY_NAMES, EntryKey, key_dict, storable
from bounce_worker.store.models import EntryRow, TransitionRow

# The entry columns the policy decides (policy.Entry's fields), and what a batch writes back.
POLICY_COLUMNS = tuple(f.name for f in dataclasses.fields(Entry))
STATE_COLUMNS = (*POLICY_COLUMNS, "updated_at")
TRANSITION_COLUMNS = tuple(c.name for c in TransitionRow.__table__.c if c.name != "id")
# (channel, address, organization) -> (first, last) delivery seen in the batch.
DeliveryFacts = Mapping[tuple[str, str, str], tuple[datetime, datetime]]


class DeadLetter(NamedTuple):
    """An input that did not parse or validate, kept with the reason (SPEC 6)."""

    kind: str  # event, raw, webhook, message
    source: str | None
    payload: bytes
    reason: str


class EntryRecord:
    """An entry row as plain attributes: what the policy reads and writes in a batch.

    Not an ORM object: SQLAlchemy's instrumentation costs ~100 us per event applied, more
    than the SQL; `write_back` stores the changed ones in one statement."""

    __slots__ = tuple(c.name for c in EntryRow.__table__.c)

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    def key(self) -> EntryKey:
        return EntryKey(*(getattr(self, n) for n in KEY_NAMES))


class Wanted(NamedTuple):
    """What a batch asks `claim_and_lock` for.

    `claims`: (event_id, payload) of every distinct id, sorted. `creates`: (event_id, key,
    display address) of each suppressing event, in the order applied; a key is created only
    for an event whose id this call claims (a duplicate never creates an entry), with the
    display address of the first such event. `touches`: the keys a delivery or an opt-in
    acts on, locked when they exist."""

    claims: Sequence[tuple[str, str]]
    creates: Sequence[tuple[str, EntryKey, str]]
    touches: set[EntryKey]
    now: datetime


@dataclass
class Claimed:
    """What `claim_and_lock` got: the event ids that were new, the locked entries by key
    (the policy edits them in memory, `write_back` stores them) and the keys it created."""

    event_ids: set[str]
    rows: dict[EntryKey, EntryRecord] = field(default_factory=dict)
    created: set[EntryKey] = field(default_factory=set)


class EventStore(Protocol):
    def __enter__(self) -> EventStore: ...
    def __exit__(self, *exc: object) -> None: ...
    def claim_and_lock(self, wanted: Wanted) -> Claimed:
        """Claim the ids, create the keys of the claimed events' `creates` if new, lock
        them and the existing `touches` keys (store.writer.Wanted)."""
        ...

    def record_transition(self, **fields: Any) -> None:
        """Collect a transition (TRANSITION_COLUMNS); written by write_back."""
        ...

    def write_back(self, rows: Sequence[EntryRecord], deliveries: DeliveryFacts) -> None:
        """The entries the policy changed, the delivery facts, the transitions collected."""
        ...

    def add_dead_letter(self, row: Mapping[str, Any]) -> int:
        """Store one dead letter (`dead_letter_row`'s values); its id."""
        ...

    def refile(self, dead_letter_id: int, reason: str) -> None:
        """A dead letter replayed failed again: its reason becomes `reason`."""
        ...

    def commit(self) -> None: ...


def open_store(engine: Engine, *, durable: bool = True) -> EventStore:
    """The engine's store. `durable=False` (a backfill from a file, which can simply be run
    again: its events are idempotent) lets PostgreSQL acknowledge a COMMIT before its WAL
    is flushed (synchronous_commit off, for that transaction only); a crash may then lose
    the last few batches, never half of one. The worker always commits durably: it
    acknowledges a message only after its commit."""
    if engine.dialect.name == "postgresql":
        from bounce_worker.store.writer_pg import PgEventStore

        return PgEventStore(engine, durable=durable)
    from bounce_worker.store.writer_sqlite import SqliteEventStore

    return SqliteEventStore(engine)


def dead_letter_row(letter: DeadLetter, now: datetime) -> dict[str, Any]:
    """A dead letter's column values, its texts made storable (NUL, lone surrogates)."""
    return {
        "kind": letter.kind,
        "source": storable(letter.source) if letter.source else letter.source,
        "payload": letter.payload,
        "reason": storable(letter.reason)[:2000],
        "received_at": now,
    }


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, State) else value


# policy.Entry's defaults as column values (immutable: strings, numbers, None), made once:
# dataclasses.asdict per new entry cost more than the SQL that stores it.
_NEW_STATE = {n: _plain(getattr(Entry(), n)) for n in POLICY_COLUMNS}


def new_entry(key: EntryKey, display: str, now: datetime) -> dict[str, Any]:
    """The row a new key starts as: active, no counters (policy.Entry's defaults)."""
    return {**key_dict(key), "display_address": display, **_NEW_STATE, "updated_at": now}


def to_entry(row: Any) -> Entry:
    """The policy's view of an entry row (ORM row or EntryRecord)."""
    values = {n: getattr(row, n) for n in POLICY_COLUMNS}
    return Entry(**{**values, "state": State(values["state"])})


def write_entry(row: Any, entry: Entry, now: datetime) -> None:
    """The policy's decision onto the row (ORM row or EntryRecord)."""
    for name in POLICY_COLUMNS:
        setattr(row, name, _plain(getattr(entry, name)))
    row.updated_at = now


def state_of(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, n) for n in STATE_COLUMNS)


def record_from(values: Mapping[str, Any]) -> EntryRecord:
    """An entry from a result row; times as aware UTC (UTCDateTime's contract)."""
    return EntryRecord(
        **{
            n: v.astimezone(UTC) if isinstance(v, datetime) else v
            for n, v in values.items()
            if n not in ("inserted", "event_id")  # writer_pg's flags, not columns
        }
    )
