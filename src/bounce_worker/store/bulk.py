"""A unit of work for many events at once: a few set-based statements per batch.

On PostgreSQL every bulk statement is one short, fixed SQL text whose rows arrive as one
JSON parameter (`json_to_recordset`): one C-speed json.dumps on the client, one parse on
the server, and psycopg prepares the statement once per connection. (SQLAlchemy's multi-row
VALUES builds a new 5,000-parameter statement per batch, which psycopg re-parses every
time, and psycopg's Python array dumper escapes every string with a regex: both cost more
than the work itself.) SQLite, the embedded single-process default, takes the same calls as
plain executemany.

Locks are taken in sorted key order (event ids, then entry keys), so workers applying
overlapping batches wait for each other instead of deadlocking.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy import bindparam, insert, select, tuple_, update

from bounce_worker.store.models import (
    EntryRow,
    ProcessedEventRow,
    TransitionRow,
)
from bounce_worker.store.uow import KEY_NAMES, EntryKey, UnitOfWork, new_entry

_KEYS = ", ".join(KEY_NAMES)
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
# Named, not `*`: a column another migration adds must not shift the typed result columns.
_COLUMNS = [c.name for c in EntryRow.__table__.c]
_KEY_TYPES = "channel text, address text, scope text, organization text, list text"
_ENTRY_STATE = """state text, reason text, blocked_until timestamptz, temp_block_count int,
    temp_block_last_end timestamptz, soft_bounce_count int, updated_at timestamptz"""
PG = {
    "claim": """
        INSERT INTO processed_events (event_id, processed_at, payload)
        SELECT r.event_id, %(now)s, r.payload
        FROM json_to_recordset(CAST(%(rows)s AS json)) AS r(event_id text, payload text)
        ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
    # Create-or-lock in one statement: ON CONFLICT DO UPDATE locks an existing row as
    # FOR UPDATE would, and RETURNING gives every row, new (xmax = 0) or not.
    "upsert": f"""
        INSERT INTO entries AS e ({_KEYS}, display_address, state, temp_block_count,
                                  soft_bounce_count, updated_at)
        SELECT r.*, 'active', 0, 0, %(now)s
        FROM json_to_recordset(CAST(%(rows)s AS json)) AS r({_KEY_TYPES}, display text)
        ON CONFLICT ({_KEYS}) DO UPDATE SET display_address = e.display_address
        RETURNING {", ".join("e." + c for c in _COLUMNS)}, e.xmax = 0 AS inserted""",
    "lock": f"""
        SELECT {", ".join("entries." + c for c in _COLUMNS)} FROM entries
        JOIN json_to_recordset(CAST(%(rows)s AS json)) AS r({_KEY_TYPES}) USING ({_KEYS})
        ORDER BY {_KEYS} FOR UPDATE OF entries""",
    # Every write of a batch in one statement (data-modifying CTEs all run).
    "write": f"""
        WITH changed AS (
            UPDATE entries AS e SET state = r.state, reason = r.reason,
                blocked_until = r.blocked_until, temp_block_count = r.temp_block_count,
                temp_block_last_end = r.temp_block_last_end,
                soft_bounce_count = r.soft_bounce_count, updated_at = r.updated_at
            FROM json_to_recordset(CAST(%(entries)s AS json)) AS r(id bigint, {_ENTRY_STATE})
            WHERE e.id = r.id RETURNING 1
        ), delivered AS (
            INSERT INTO deliveries AS d (channel, address, organization, first_delivered_at,
                                         last_delivered_at)
            SELECT * FROM json_to_recordset(CAST(%(deliveries)s AS json)) AS r(channel text,
                address text, organization text, first_delivered_at timestamptz,
                last_delivered_at timestamptz)
            ON CONFLICT (channel, address, organization) DO UPDATE
                SET last_delivered_at = excluded.last_delivered_at
                WHERE d.last_delivered_at < excluded.last_delivered_at
            RETURNING 1
        )
        INSERT INTO transitions ({", ".join(TRANSITION_COLUMNS)})
        SELECT * FROM json_to_recordset(CAST(%(transitions)s AS json)) AS r(entry_id bigint,
            from_state text, to_state text, reason text, event_id text, diagnostic text,
            occurred_at timestamptz, recorded_at timestamptz)""",  # in order: ids follow history
}


class EntryRecord:
    """An entry row as plain attributes: what the policy reads and writes in a batch.

    Not an ORM object: SQLAlchemy's instrumentation costs ~100 us per event applied, more
    than the SQL; `write_back` stores the changed ones in one statement."""

    __slots__ = tuple(_COLUMNS)

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    def key(self) -> EntryKey:
        return EntryKey(self.channel, self.address, self.scope, self.organization, self.list)


class BulkUnitOfWork(UnitOfWork):
    """One transaction for a batch. Transitions are collected and written in one go."""

    def __enter__(self) -> BulkUnitOfWork:
        super().__enter__()
        self.pg = self.engine.dialect.name == "postgresql"
        self.transitions: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.pending: dict[str, list[dict[str, Any]]] = {}
        return self

    def record_transition(self, **fields: Any) -> None:
        self.transitions.append(fields)  # written by write_back, with the entries

    def claim_events(self, claims: Sequence[tuple[str, str]], now: datetime) -> set[str]:
        """Claim many (event_id, payload); returns the ids that were new (sorted locks)."""
        if not claims:
            return set()
        rows = [{"event_id": i, "payload": p} for i, p in sorted(claims)]
        if self.pg:
            # BEGIN and the claim share one round trip (psycopg pipeline mode).
            with self.raw.pipeline():
                return {r["event_id"] for r in self._sql("claim", rows=rows, now=now).fetchall()}
        table = ProcessedEventRow.__table__
        stmt = self._insert(table).on_conflict_do_nothing().returning(table.c.event_id)
        params = [dict(r, processed_at=now) for r in rows]
        return set(self.session.connection().execute(stmt, params).scalars())

    def lock_entries(
        self, creates: dict[EntryKey, str], touches: set[EntryKey], now: datetime
    ) -> tuple[dict[EntryKey, EntryRecord], set[EntryKey]]:
        """Create the `creates` keys (key -> display address) if new, then lock them and
        the existing `touches` keys. Returns the records by key (the policy edits them in
        memory, `write_back` stores them) and the keys this call created."""
        columns = EntryRow.__table__.c
        locked: dict[EntryKey, EntryRecord] = {}
        created: set[EntryKey] = set()
        if creates and self.pg:
            new = [{**_key_dict(k), "display": creates[k]} for k in sorted(creates)]
            for values in self._sql("upsert", rows=new, now=now).fetchall():
                record = _record(values)
                locked[record.key()] = record
                if values["inserted"]:
                    created.add(record.key())
        elif creates:
            table = EntryRow.__table__
            stmt = self._insert(table).on_conflict_do_nothing()
            stmt = stmt.returning(*(table.c[n] for n in KEY_NAMES))
            params = [new_entry(k, creates[k], now) for k in sorted(creates)]
            created.update(EntryKey(*r) for r in self.session.connection().execute(stmt, params))
        rest = touches.difference(locked) if self.pg else touches.union(creates)
        for part in _chunks(sorted(rest)):
            keys = [_key_dict(k) for k in part]
            if self.pg:
                found = self._sql("lock", rows=keys).fetchall()
            else:  # SQLite: one writer at a time already (BEGIN IMMEDIATE)
                key = tuple_(*(columns[n] for n in KEY_NAMES))
                stmt = select(*columns).where(key.in_([tuple(k.values()) for k in keys]))
                found = [r._mapping for r in self.session.connection().execute(stmt)]
            for values in found:
                record = _record(values)
                locked[record.key()] = record
        return locked, created

    def record_deliveries(
        self, deliveries: dict[tuple[str, str, str], tuple[datetime, datetime]]
    ) -> None:
        """Bulk `record_delivery`: (channel, address, organization) -> (first, last) seen.
        On PostgreSQL they are written by write_back, with everything else."""
        if not self.pg:
            for (channel, address, organization), times in sorted(deliveries.items()):
                for at in times:  # the first one inserts, the last one moves last_delivered_at
                    self.record_delivery(channel, address, organization, at)
            return
        names = ("channel", "address", "organization", "first_delivered_at", "last_delivered_at")
        self.deliveries += [
            dict(zip(names, (*k, *t), strict=True)) for k, t in sorted(deliveries.items())
        ]

    def write_back(self, rows: Sequence[EntryRecord]) -> None:
        """Store the entries the policy changed and the transitions it collected."""
        entries = [{n: getattr(r, n) for n in ("id", *STATE_COLUMNS)} for r in rows]
        history, self.transitions = self.transitions, []
        if self.pg:
            # Sent with the COMMIT, in one round trip (see commit).
            self.pending = {
                "entries": entries,
                "deliveries": self.deliveries,
                "transitions": history,
            }
            self.deliveries = []
            return
        conn = self.session.connection()
        if entries:
            table = EntryRow.__table__
            stmt = update(table).where(table.c.id == bindparam("_id"))
            conn.execute(stmt, [dict(r, _id=r.pop("id")) for r in entries])
        if history:
            conn.execute(insert(TransitionRow.__table__), history)

    def add_dead_letters(
        self, letters: Sequence[tuple[str, str | None, bytes, str]], now: datetime
    ) -> list[int]:
        """Many (kind, source, payload, reason) at once (rare: no fast path); their ids."""
        return [self.add_dead_letter(k, s, p, r, now) for k, s, p, r in letters]

    def commit(self) -> None:
        if self.pg and self.pending:
            with self.raw.pipeline():  # the writes and COMMIT: one round trip
                self._sql("write", **self.pending)
                self.raw.commit()
            self.pending = {}
        super().commit()  # SQLAlchemy's bookkeeping; psycopg sends nothing when idle

    @property
    def raw(self) -> Any:
        """The psycopg connection under the session, in the session's transaction."""
        return self.session.connection().connection.driver_connection

    def _sql(self, name: str, now: datetime | None = None, **rows: list[dict[str, Any]]) -> Any:
        params: dict[str, Any] = {key: _json(value) for key, value in rows.items()}
        cursor = self.raw.cursor(row_factory=dict_row)
        return cursor.execute(PG[name], {**params, "now": now}, prepare=True)


def _record(values: Mapping[str, Any]) -> EntryRecord:
    """An entry from a result row; times as aware UTC (UTCDateTime's contract)."""
    return EntryRecord(
        **{
            n: v.astimezone(UTC) if isinstance(v, datetime) else v
            for n, v in values.items()
            if n != "inserted"
        }
    )


def _key_dict(key: EntryKey) -> dict[str, str]:
    return {n: getattr(key, n) for n in KEY_NAMES}


def _json(rows: list[dict[str, Any]]) -> str:
    # One C-speed json.dumps and one server-side parse per statement, whatever the size.
    return json.dumps(rows, default=datetime.isoformat)


def _chunks(items: Sequence[EntryKey], size: int = 5000) -> Iterator[Sequence[EntryKey]]:
    """SQLite's 32766 bind parameters (5 per key) bound the tuple IN list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
