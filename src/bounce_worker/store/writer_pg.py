"""The event writer's store on PostgreSQL: two round trips per batch, whatever its size.

It runs on the pooled psycopg connection itself, not through a SQLAlchemy Session: with
one event per message the Session's bookkeeping cost more CPU than the SQL. Each bulk
statement is one short, fixed SQL text whose rows arrive as one JSON parameter
(`json_to_recordset`): one C-speed json.dumps on the client, one parse on the server, and
psycopg prepares the statement once per connection. (SQLAlchemy's multi-row VALUES builds
a new 5,000-parameter statement per batch, which psycopg re-parses every time, and
psycopg's Python array dumper escapes every string with a regex.) The column lists and
their types are read from the table definitions (models.py).

A batch whose rows come to more than `PIPELINE_MAX_EVENTS` events sends its statements
one by one instead: in pipeline mode a statement of megabytes (tens of thousands of
events) could leave both sides waiting, the server for the rest of the statement
(ClientRead) and psycopg for a result (seen here one run in three at 40,000 events;
psycopg issue #685), so the transaction, holding its locks, never ended.

Round trip 1 (psycopg pipeline mode): BEGIN, the key locks, the claim of the event ids
with the create-or-lock of the entries of the events it claimed (one statement: a
duplicate creates nothing), the lock of the other entries. Round trip 2: every write and
the COMMIT.

Deadlocks: a batch creates some entries (upsert) and only locks others (a delivery, an
opt-in); two statements cannot take row locks in one global order. So each transaction
first takes a transaction-scoped advisory lock per entry key, in ascending order of its
32-bit hash (store/keys.py); batches sharing keys queue on those instead of deadlocking
on the rows, and so do the operator use cases (store/uow.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql

from bounce_worker.store.keys import (
    KEY_NAMES,
    LOCK_CLASS,
    MAX_KEY_LOCKS,
    WIDE_LOCK,
    EntryKey,
    key_dict,
    lock_id,
)
from bounce_worker.store.models import DeliveryRow, EntryRow, ProcessedEventRow, TransitionRow
from bounce_worker.store.writer import (
    STATE_COLUMNS,
    TRANSITION_COLUMNS,
    Claimed,
    DeliveryFacts,
    EntryRecord,
    Wanted,
    new_entry,
    record_from,
)

_DIALECT = postgresql.dialect()
# Up to this many events a batch's statements go pipelined (the worker's and process's
# batches of 500 are far below); above, one by one (see the module doc).
PIPELINE_MAX_EVENTS = 2_000
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
    # store/keys.py: shared before the key locks, exclusive instead of too many of them.
    "wide_shared": f"SELECT pg_advisory_xact_lock_shared({WIDE_LOCK[0]}, {WIDE_LOCK[1]})",
    "wide": f"SELECT pg_advisory_xact_lock({WIDE_LOCK[0]}, {WIDE_LOCK[1]})",
    # A function scan returns the array's elements in order: the locks follow it.
    "key_locks": f"""
        SELECT count(pg_advisory_xact_lock({LOCK_CLASS}, k::int))
        FROM json_array_elements_text(CAST(%(rows)s AS json)) AS k""",
    # The claim, and create-or-lock of the keys the claimed events create, in one statement
    # (its CTEs see one snapshot, so the second reads the first's RETURNING, not the table).
    # ON CONFLICT DO UPDATE locks an existing row as FOR UPDATE would, and RETURNING gives
    # every row, new (xmax = 0) or not; a key keeps the display address of its first event
    # (`n`, the order applied). The result: the claimed ids (entry columns NULL), then rows.
    "claim_create": f"""
        WITH claimed AS (
            INSERT INTO processed_events (event_id, processed_at, payload)
            SELECT r.event_id, %(now)s, r.payload
            FROM json_to_recordset(CAST(%(claims)s AS json))
                AS r({_record(PROCESSED, ["event_id", "payload"])})
            ON CONFLICT (event_id) DO NOTHING RETURNING event_id
        ), created AS (
            INSERT INTO entries AS e ({_names(_NEW)})
            SELECT DISTINCT ON ({_KEYS}) {_names(_NEW)}
            FROM json_to_recordset(CAST(%(creates)s AS json))
                AS r({_record(ENTRIES, _NEW)}, event_id text, n int)
            WHERE r.event_id IN (SELECT event_id FROM claimed)
            ORDER BY {_KEYS}, n
            ON CONFLICT ({_KEYS}) DO UPDATE SET display_address = e.display_address
            RETURNING {_names(_ALL, "e.")}, e.xmax = 0 AS inserted
        )
        SELECT event_id, {", ".join(f"NULL AS {n}" for n in _ALL)}, NULL AS inserted
        FROM claimed
        UNION ALL SELECT NULL, * FROM created""",
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
        VALUES (%(kind)s, %(source)s, %(payload)b, %(reason)s, %(received_at)s)
        RETURNING id""",
    "refile": "UPDATE dead_letters SET reason = %(reason)s WHERE id = %(id)s",
}


# Plan each batch's statements against the tables as they are now. A prepared statement
# otherwise switches to a generic plan after five runs and keeps it for the connection's
# life: planned on a fresh database's nearly empty `entries`, the lock and the write read
# the table in full (seq scan, hash join), and a backfill's server time per event grew
# with the table, 60 -> 390 us over 1,000,000 events (no ANALYZE came to invalidate the
# plan: autovacuum off). The json_to_recordset rows are opaque to the planner either way,
# so a custom plan costs only its planning, well under 1 ms per batch.
_CUSTOM_PLANS = "SET LOCAL plan_cache_mode TO force_custom_plan"


class PgEventStore:
    """One transaction for a batch, on a pooled psycopg connection."""

    def __init__(self, engine: Engine, *, durable: bool = True) -> None:
        self.engine, self.durable = engine, durable

    def __enter__(self) -> PgEventStore:
        self.pipelined = True  # claim_and_lock decides by the batch's size
        self.pooled = self.engine.raw_connection()
        self.conn: psycopg.Connection[Any] = self.pooled.driver_connection  # type: ignore[assignment]
        self.transitions: list[dict[str, Any]] = []
        self.pending: dict[str, list[dict[str, Any]]] = {}
        return self

    def __exit__(self, *exc: object) -> None:
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

    def claim_and_lock(self, wanted: Wanted) -> Claimed:
        """store.writer.EventStore.claim_and_lock, in one round trip."""
        claims, creates, touches, now = wanted
        keys = {k for _, k, _ in creates}.union(touches)
        self.pipelined = len(claims) <= PIPELINE_MAX_EVENTS
        with self._round_trip():  # BEGIN and everything below
            self.conn.execute(_CUSTOM_PLANS)
            if len(keys) > MAX_KEY_LOCKS:
                self._sql("wide")
            elif keys:
                self._sql("wide_shared")
                self._sql("key_locks", rows=sorted({lock_id(k) for k in keys}))
            found = [
                self._sql(
                    "claim_create",
                    claims=[{"event_id": i, "payload": p} for i, p in claims],
                    creates=[
                        new_entry(k, display, now) | {"event_id": i, "n": n}
                        for n, (i, k, display) in enumerate(creates)
                    ],
                    now=now,
                )
            ]
            if touches:  # a key also created above is returned twice: the same values
                found.append(self._sql("lock", rows=[key_dict(k) for k in sorted(touches)]))
            claimed = Claimed(set())
            for cursor in found:
                for values in cursor.fetchall():
                    if values.get("event_id") is not None:
                        claimed.event_ids.add(values["event_id"])
                        continue
                    record = record_from(values)
                    claimed.rows[record.key()] = record
                    if values["inserted"]:
                        claimed.created.add(record.key())
        return claimed

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

    def add_dead_letter(self, row: Mapping[str, Any]) -> int:
        """One statement each (rare: no fast path). The payload (a raw mail of up to
        BOUNCE_WORKER_MAX_MESSAGE_BYTES) goes as a binary parameter (`%b`): as it is, where
        text would be its hex or base64 form (2 or 1.33 times its size, and libpq's copy)."""
        return self.conn.execute(SQL["dead_letter"], row).fetchone()[0]  # type: ignore[index]

    def refile(self, dead_letter_id: int, reason: str) -> None:
        self.conn.execute(SQL["refile"], {"id": dead_letter_id, "reason": reason})

    def commit(self) -> None:
        with self._round_trip():  # the writes and COMMIT
            if self.pending:
                self._sql("write", **self.pending)
            if not self.durable:
                self.conn.execute("SET LOCAL synchronous_commit TO off")
            self.conn.commit()
        self.pending = {}

    def _round_trip(self) -> AbstractContextManager[Any]:
        """One round trip (pipeline mode), or plain statements for a huge batch."""
        return self.conn.pipeline() if self.pipelined else nullcontext()

    def _sql(self, name: str, now: datetime | None = None, **rows: list[Any]) -> Any:
        params: dict[str, Any] = {key: _json(value) for key, value in rows.items()}
        cursor = self.conn.cursor(row_factory=dict_row)
        return cursor.execute(SQL[name], {**params, "now": now}, prepare=True)


def _json(rows: list[Any]) -> str:
    # One C-speed json.dumps and one server-side parse per statement, whatever the size.
    return json.dumps(rows, default=datetime.isoformat)
