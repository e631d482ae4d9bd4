"""The event writer's store on PostgreSQL: two round trips per batch, whatever its size.

It runs on the pooled psycopg connection itself, not through a SQLAlchemy Session: with
one event per message the Session's bookkeeping cost more CPU than the SQL. Each bulk
statement is one short, fixed SQL text whose rows arrive as one JSON parameter
(`json_to_recordset`): one C-speed json.dumps on the client, one parse on the server, and
psycopg prepares the statement once per connection. (SQLAlchemy's multi-row VALUES builds
a new 5,000-parameter statement per batch, which psycopg re-parses every time, and
psycopg's Python array dumper escapes every string with a regex.) The column lists and
their types are read from the table definitions (models.py).

Round trip 1 (psycopg pipeline mode): BEGIN, the claim of the event ids, the key locks,
the create-or-lock of the entries. Round trip 2: every write and the COMMIT.

Deadlocks: a batch creates some entries (upsert) and only locks others (a delivery, an
opt-in); two statements cannot take row locks in one global order. So each transaction
first takes a transaction-scoped advisory lock per entry key, in ascending order of its
32-bit hash (store/keys.py); batches sharing keys queue on those instead of deadlocking
on the rows, and so do the operator use cases (store/uow.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql

from bounce_worker.store.keys import KEY_NAMES, LOCK_CLASS, EntryKey, key_dict, lock_id
from bounce_worker.store.models import DeliveryRow, EntryRow, ProcessedEventRow, TransitionRow
from bounce_worker.store.writer import (
    STATE_COLUMNS,
    TRANSITION_COLUMNS,
    Claimed,
    DeadLetter,
    DeliveryFacts,
    EntryRecord,
    dead_letter_row,
    new_entry,
    record_from,
)

_DIALECT = postgresql.dialect()
ENTRIES: Table = EntryRow.__table__  # type: ignore[assignment]
DELIVERIES: Table = DeliveryRow.__table__  # type: ignore[assignment]
PROCESSED: Table = ProcessedEventRow.__table__  # type: ignore[assignment]


def _names(names: Sequence[str], prefix: str = "") -> str:
    return ", ".join(prefix + n for n in names)


def _record(table: Table, names: Sequence[str]) -> str:
    """The column definition list of json_to_recordset, typed as the table's columns."""
    return ", ".join(f"{n} {table.c[n].type.compile(dialect=_DIALECT)}" for n in names)


_KEYS = _names(KEY_NAMES)
_ALL = [c.name for c in ENTRIES.c]  # named, not `*`: result columns stay typed
_NEW = list(new_entry(EntryKey("", "", ""), "", datetime.min))
_DELIVERY = [c.name for c in DELIVERIES.c]
TRANSITIONS: Table = TransitionRow.__table__  # type: ignore[assignment]

SQL = {
    "claim": f"""
        INSERT INTO processed_events (event_id, processed_at, payload)
        SELECT r.event_id, %(now)s, r.payload
        FROM json_to_recordset(CAST(%(rows)s AS json))
            AS r({_record(PROCESSED, ["event_id", "payload"])})
        ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
    # A function scan returns the array's elements in order: the locks follow it.
    "key_locks": f"""
        SELECT count(pg_advisory_xact_lock({LOCK_CLASS}, k::int))
        FROM json_array_elements_text(CAST(%(rows)s AS json)) AS k""",
    # Create-or-lock in one statement: ON CONFLICT DO UPDATE locks an existing row as
    # FOR UPDATE would, and RETURNING gives every row, new (xmax = 0) or not.
    "upsert": f"""
        INSERT INTO entries AS e ({_names(_NEW)})
        SELECT {_names(_NEW, "r.")}
        FROM json_to_recordset(CAST(%(rows)s AS json)) AS r({_record(ENTRIES, _NEW)})
        ON CONFLICT ({_KEYS}) DO UPDATE SET display_address = e.display_address
        RETURNING {_names(_ALL, "e.")}, e.xmax = 0 AS inserted""",
    # Probed through the unique key's leading columns (channel, address, scope). Without
    # table statistics (a fresh database, autovacuum off) the planner otherwise took the
    # (organization, channel, state) index, where every global entry has organization '',
    # and a batch of 500 took seconds; `|| ''` keeps it off that index whatever it knows.
    "lock": f"""
        SELECT {_names(_ALL, "e.")}, false AS inserted FROM entries AS e
        JOIN json_to_recordset(CAST(%(rows)s AS json)) AS r({_record(ENTRIES, KEY_NAMES)})
        ON e.channel = r.channel AND e.address = r.address AND e.scope = r.scope
           AND e.organization || '' = r.organization AND e.list || '' = r.list
        ORDER BY {_names(KEY_NAMES, "e.")} FOR UPDATE OF e""",
    # Every write of a batch in one statement (data-modifying CTEs all run).
    "write": f"""
        WITH changed AS (
            UPDATE entries AS e SET {", ".join(f"{n} = r.{n}" for n in STATE_COLUMNS)}
            FROM json_to_recordset(CAST(%(entries)s AS json))
                AS r({_record(ENTRIES, ["id", *STATE_COLUMNS])})
            WHERE e.id = r.id RETURNING 1
        ), delivered AS (
            INSERT INTO deliveries AS d ({_names(_DELIVERY)})
            SELECT {_names(_DELIVERY, "r.")} FROM json_to_recordset(CAST(%(deliveries)s AS json))
                AS r({_record(DELIVERIES, _DELIVERY)})
            ON CONFLICT (channel, address, organization) DO UPDATE
                SET last_delivered_at = excluded.last_delivered_at
                WHERE d.last_delivered_at < excluded.last_delivered_at
            RETURNING 1
        )
        INSERT INTO transitions ({_names(TRANSITION_COLUMNS)})
        SELECT {_names(TRANSITION_COLUMNS, "r.")}
        FROM json_to_recordset(CAST(%(transitions)s AS json))
            AS r({_record(TRANSITIONS, TRANSITION_COLUMNS)})""",  # in order: ids follow history
    "dead_letter": """
        INSERT INTO dead_letters (kind, source, payload, reason, received_at)
        VALUES (%(kind)s, %(source)s, decode(%(payload)s, 'base64'), %(reason)s, %(received_at)s)
        RETURNING id""",
    "refile": "UPDATE dead_letters SET reason = %(reason)s WHERE id = %(id)s",
}


class PgEventStore:
    """One transaction for a batch, on a pooled psycopg connection."""

    def __init__(self, engine: Engine, *, durable: bool = True) -> None:
        self.engine, self.durable = engine, durable

    def __enter__(self) -> PgEventStore:
        self.pooled = self.engine.raw_connection()
        self.conn: psycopg.Connection[Any] = self.pooled.driver_connection  # type: ignore[assignment]
        self.transitions: list[dict[str, Any]] = []
        self.pending: dict[str, list[dict[str, Any]]] = {}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.conn.rollback()  # sends nothing after a commit
        except psycopg.Error:
            pass  # a lost connection: invalidated below
        finally:
            # Errors on this connection reach no SQLAlchemy code, so the pool would not
            # learn that it broke: drop it here, or the retry would get it back.
            if self.conn.closed or self.conn.broken:
                self.pooled.invalidate()
            self.pooled.close()

    def claim_and_lock(
        self,
        claims: Sequence[tuple[str, str]],
        creates: Mapping[EntryKey, str],
        touches: set[EntryKey],
        now: datetime,
    ) -> Claimed:
        """store.writer.EventStore.claim_and_lock, in one round trip."""
        rest = sorted(touches.difference(creates))
        locks = sorted({lock_id(k) for k in (*creates, *touches)})
        with self.conn.pipeline():  # BEGIN and everything below: one round trip
            claim = self._sql(
                "claim", rows=[{"event_id": i, "payload": p} for i, p in claims], now=now
            )
            if locks:
                self._sql("key_locks", rows=locks)
            found = []
            if creates:
                new = [new_entry(k, creates[k], now) for k in sorted(creates)]
                found.append(self._sql("upsert", rows=new, now=now))
            if rest:
                found.append(self._sql("lock", rows=[key_dict(k) for k in rest]))
            claimed = Claimed({r["event_id"] for r in claim.fetchall()})
            for cursor in found:
                for values in cursor.fetchall():
                    record = record_from(values)
                    claimed.rows[record.key()] = record
                    if values["inserted"]:
                        claimed.created.add(record.key())
        return claimed

    def restart(self) -> None:
        """Roll back what this transaction did; the next statement begins a new one."""
        self.conn.rollback()
        self.transitions = []

    def record_transition(self, **fields: Any) -> None:
        self.transitions.append(fields)  # written by write_back, with the entries

    def write_back(self, rows: Sequence[EntryRecord], deliveries: DeliveryFacts) -> None:
        """Queue the entries the policy changed, the delivery facts and the transitions
        collected; they are sent with the COMMIT, in one round trip."""
        self.pending = {
            "entries": [{n: getattr(r, n) for n in ("id", *STATE_COLUMNS)} for r in rows],
            "deliveries": [
                dict(zip(_DELIVERY, (*k, *t), strict=True)) for k, t in sorted(deliveries.items())
            ],
            "transitions": self.transitions,
        }
        self.transitions = []

    def add_dead_letters(
        self, letters: Sequence[DeadLetter], now: datetime, replay_of: int | None
    ) -> list[int]:
        """One statement each (rare: no fast path); their ids."""
        rows = [dead_letter_row(letter, now) for letter in letters]
        if replay_of is not None:
            for row in rows:
                self.conn.execute(SQL["refile"], {"id": replay_of, "reason": row["reason"]})
            return [replay_of] * len(rows)
        return [
            self.conn.execute(  # type: ignore[index]
                SQL["dead_letter"], row | {"payload": base64.b64encode(row["payload"]).decode()}
            ).fetchone()[0]
            for row in rows
        ]

    def commit(self) -> None:
        with self.conn.pipeline():  # the writes and COMMIT: one round trip
            if self.pending:
                self._sql("write", **self.pending)
            if not self.durable:
                self.conn.execute("SET LOCAL synchronous_commit TO off")
            self.conn.commit()
        self.pending = {}

    def _sql(self, name: str, now: datetime | None = None, **rows: list[Any]) -> Any:
        params: dict[str, Any] = {key: _json(value) for key, value in rows.items()}
        cursor = self.conn.cursor(row_factory=dict_row)
        return cursor.execute(SQL[name], {**params, "now": now}, prepare=True)


def _json(rows: list[Any]) -> str:
    # One C-speed json.dumps and one server-side parse per statement, whatever the size.
    return json.dumps(rows, default=datetime.isoformat)
