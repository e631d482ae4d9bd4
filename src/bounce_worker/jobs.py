"""Nightly jobs, as set-based SQL: one statement does the work for every row.

The unlock's rule is `policy.unlock_due`; here it is the same test written as SQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, TextClause, bindparam, text

from bounce_worker.store.models import UTCDateTime


def _sql(statement: str) -> TextClause:
    # Typed binding: the same instant is written the way the column stores it on each database.
    return text(statement).bindparams(bindparam("now", type_=UTCDateTime()))


# PostgreSQL: lock the expired rows, flip them and write their transitions in one
# statement, so an event that changes one of them concurrently either waits or is seen.
_UNLOCK_PG = _sql(
    """
    WITH expired AS (
        SELECT id, blocked_until FROM entries
        WHERE state = 'temporarily_blocked' AND blocked_until <= :now
        FOR UPDATE
    ), unlocked AS (
        UPDATE entries SET state = 'active', reason = 'block_expired',
               blocked_until = NULL, updated_at = :now
        FROM expired WHERE entries.id = expired.id
        RETURNING entries.id, expired.blocked_until
    )
    INSERT INTO transitions (entry_id, from_state, to_state, reason, occurred_at, recorded_at)
    SELECT id, 'temporarily_blocked', 'active', 'block_expired', blocked_until, :now
    FROM unlocked
    """
)

# SQLite holds the database's write lock for the whole transaction (BEGIN IMMEDIATE), so the
# two statements see the same rows.
_UNLOCK_SQLITE = (
    _sql(
        """
        INSERT INTO transitions (entry_id, from_state, to_state, reason, occurred_at, recorded_at)
        SELECT id, 'temporarily_blocked', 'active', 'block_expired', blocked_until, :now
        FROM entries WHERE state = 'temporarily_blocked' AND blocked_until <= :now
        """
    ),
    _sql(
        """
        UPDATE entries SET state = 'active', reason = 'block_expired',
               blocked_until = NULL, updated_at = :now
        WHERE state = 'temporarily_blocked' AND blocked_until <= :now
        """
    ),
)


def unlock_expired(engine: Engine, now: datetime) -> int:
    """Every temporary block whose end has passed becomes active. Returns how many."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            return conn.execute(_UNLOCK_PG, {"now": now}).rowcount
        insert, update = _UNLOCK_SQLITE
        conn.execute(insert, {"now": now})
        return conn.execute(update, {"now": now}).rowcount
