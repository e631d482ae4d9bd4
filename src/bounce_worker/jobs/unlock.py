"""Nightly unlock (SPEC 5): every temporary block whose end has passed becomes active.

The rule is `policy.unlock_due` (blocked_until <= now), written as SQL. The job works in
bounded batches, each its own transaction, until a batch finds nothing: memory and lock time
stay flat at any table size, and a missed night is simply more batches the next night.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from bounce_worker.jobs.common import JobResult, Progress, count, job_lock, log, skipped, sql

JOB = "unlock"

_DUE = "state = 'temporarily_blocked' AND blocked_until <= :now"

# PostgreSQL: lock one batch of expired rows, flip them and write their transitions in one
# statement. A row an event changes meanwhile is re-checked after its lock is released and
# drops out if it no longer matches, so neither a concurrent event nor a second run can
# unlock it twice.
_BATCH_PG = sql(
    f"""
    WITH expired AS (
        SELECT id, blocked_until FROM entries
        WHERE {_DUE}
        ORDER BY blocked_until
        LIMIT :batch
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
# two statements pick the same rows (same deterministic order, nothing changes in between).
_PICK_SQLITE = f"""
    SELECT id FROM entries WHERE {_DUE} ORDER BY blocked_until, id LIMIT :batch
"""
_BATCH_SQLITE = (
    sql(
        f"""
        INSERT INTO transitions (entry_id, from_state, to_state, reason, occurred_at, recorded_at)
        SELECT id, 'temporarily_blocked', 'active', 'block_expired', blocked_until, :now
        FROM entries WHERE id IN ({_PICK_SQLITE})
        """
    ),
    sql(
        f"""
        UPDATE entries SET state = 'active', reason = 'block_expired',
               blocked_until = NULL, updated_at = :now
        WHERE id IN ({_PICK_SQLITE})
        """
    ),
)

_COUNT_DUE = sql(f"SELECT COUNT(*) FROM entries WHERE {_DUE}")


def unlock_batch(engine: Engine, now: datetime, batch: int) -> int:
    """Unlock at most `batch` expired entries, with their transitions, in one transaction."""
    params = {"now": now, "batch": batch}
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            return conn.execute(_BATCH_PG, params).rowcount
        insert, update = _BATCH_SQLITE
        conn.execute(insert, params)
        return conn.execute(update, params).rowcount


def unlock_expired(
    engine: Engine, now: datetime, *, batch_size: int = 10_000, progress: Progress | None = None
) -> JobResult:
    """Every temporary block whose end is at or before `now` becomes active. Safe to re-run."""
    with job_lock(engine, JOB) as acquired:
        if not acquired:
            return skipped(JOB)
        if progress:
            progress.start("unlock", count(engine, _COUNT_DUE, {"now": now}))
        result = JobResult(JOB)
        while unlocked := unlock_batch(engine, now, batch_size):
            result.rows += unlocked
            result.batches += 1
            if progress:
                progress.advance(unlocked)
    log.info(
        "unlock: %d entries unlocked in %d batches",
        result.rows,
        result.batches,
        extra={"job": JOB, "rows": result.rows, "batches": result.batches},
    )
    return result
