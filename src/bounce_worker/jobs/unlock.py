"""Nightly unlock (SPEC 5): every temporary block whose end has passed becomes active.

The rule is `policy.unlock_due` (blocked_until <= now), written as SQL. The job works in
bounded batches, each its own transaction: memory and lock time stay flat at any table size,
and a missed night is simply more batches the next night.

Batches walk the primary key in ranges of `batch_size` ids, between the first and the last
due id. Rows are then read and rewritten in the order they lie on disk: picking batches by
blocked_until instead touches a page per row all over the table, several times slower once
the table outgrows the buffer cache. A final sweep by blocked_until (normally empty) takes
whatever became due outside the range while the job ran, or changed under its batch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from bounce_worker.domain.policy import UNLOCK_DUE_SQL
from bounce_worker.jobs.common import (
    JobResult,
    Progress,
    count,
    locked,
    log,
    run_batches,
    sql,
    transaction,
)

JOB = "unlock"

_DUE = UNLOCK_DUE_SQL  # policy.unlock_due, beside it in domain/policy.py
# The same rule for SQLite's id ranges: unary + keeps the planner on the rowid range instead
# of walking the whole due part of the state index for every batch (quadratic: a 1M-row
# unlock did not finish).
_IN_RANGE_SQLITE = (
    "+state = 'temporarily_blocked' AND +blocked_until <= :now AND id >= :lo AND id < :hi"
)
_SWEEP = f"{_DUE} ORDER BY blocked_until, id LIMIT :batch"

# PostgreSQL: one statement flips a batch and writes its transitions. No SELECT ... FOR
# UPDATE first (that writes every row twice): the UPDATE locks each row itself. The picked
# rows are joined back by ctid, a TID scan that fetches each from its heap page (joined by
# id, the plans made for a connection's first executions, with the values and before psycopg
# prepares the statement, hashed the batch and scanned the whole table: 330 ms of a 580 ms
# batch over 1M entries). A row that an event or a second run changed after the batch read it
# has a new ctid and drops out of the batch, whatever the change; the final sweep reads it
# afresh and unlocks it if it is still due (tests/integration/test_jobs_unlock.py holds rows
# while a run waits). The state and blocked_until conditions stay as a second guard of the
# same rule. So nothing is unlocked twice and the transition shows the block's end.
_BATCH_PG = """
    WITH unlocked AS (
        UPDATE entries SET state = 'active', reason = 'block_expired',
               blocked_until = NULL, updated_at = :now
        FROM ({pick}) AS due
        WHERE entries.ctid = due.ctid AND entries.state = 'temporarily_blocked'
          AND entries.blocked_until = due.blocked_until
        RETURNING entries.id, due.blocked_until
    )
    INSERT INTO transitions (entry_id, from_state, to_state, reason, occurred_at, recorded_at)
    SELECT id, 'temporarily_blocked', 'active', 'block_expired', blocked_until, :now
    FROM unlocked
"""
# The range is read through the primary key only: OFFSET 0 keeps the planner from also
# combining the due-blocks index, which would re-read every due entry's index entry per batch.
_RANGE_PG = f"""
    SELECT ctid, blocked_until FROM (
        SELECT ctid, state, blocked_until FROM entries
        WHERE id >= :lo AND id < :hi OFFSET 0
    ) AS r WHERE {_DUE}
"""
_SWEEP_PG = f"SELECT ctid, blocked_until FROM entries WHERE {_SWEEP}"

# SQLite holds the database's write lock for the whole transaction (BEGIN IMMEDIATE), so the
# two statements pick the same rows (same deterministic order, nothing changes in between).
_BATCH_SQLITE = (
    """
    INSERT INTO transitions (entry_id, from_state, to_state, reason, occurred_at, recorded_at)
    SELECT id, 'temporarily_blocked', 'active', 'block_expired', blocked_until, :now
    FROM entries WHERE id IN ({pick})
    """,
    """
    UPDATE entries SET state = 'active', reason = 'block_expired',
           blocked_until = NULL, updated_at = :now
    WHERE id IN ({pick})
    """,
)
_STATEMENTS = {
    ("postgresql", True): (sql(_BATCH_PG.format(pick=_RANGE_PG)),),
    ("postgresql", False): (sql(_BATCH_PG.format(pick=_SWEEP_PG)),),
    ("sqlite", True): tuple(
        sql(s.format(pick=f"SELECT id FROM entries WHERE {_IN_RANGE_SQLITE}"))
        for s in _BATCH_SQLITE
    ),
    ("sqlite", False): tuple(
        sql(s.format(pick=f"SELECT id FROM entries WHERE {_SWEEP}")) for s in _BATCH_SQLITE
    ),
}
_FIRST_DUE = sql(f"SELECT id FROM entries WHERE {_DUE} ORDER BY id LIMIT 1")
_LAST_DUE = sql(f"SELECT id FROM entries WHERE {_DUE} ORDER BY id DESC LIMIT 1")

_COUNT_DUE = sql(f"SELECT COUNT(*) FROM entries WHERE {_DUE}")


def unlock_batch(engine: Engine, now: datetime, batch: int, span: tuple[int, int] | None) -> int:
    """Unlock the due entries with ids in `span` [lo, hi), or else the `batch` due soonest,
    with their transitions, in one transaction."""
    params: dict[str, object] = {"now": now, "batch": batch}
    if span:
        params |= {"lo": span[0], "hi": span[1]}
    with transaction(engine) as conn:
        count = 0
        for statement in _STATEMENTS[(conn.dialect.name, span is not None)]:
            count = conn.execute(statement, params).rowcount  # the last one tells
        return count


def due_ids(engine: Engine, now: datetime, batch: int) -> list[tuple[int, int]]:
    """[lo, hi) id ranges of `batch` ids from the first due id to the last."""
    with engine.connect() as conn:
        first = conn.execute(_FIRST_DUE, {"now": now}).scalar()
        last = conn.execute(_LAST_DUE, {"now": now}).scalar()
    if first is None or last is None:
        return []
    return [(lo, lo + batch) for lo in range(first, last + 1, batch)]


@locked(JOB)
def unlock_expired(
    engine: Engine,
    now: datetime,
    *,
    batch_size: int = 10_000,
    workers: int = 1,
    progress: Progress | None = None,
) -> JobResult:
    """Every temporary block whose end is at or before `now` becomes active. Safe to re-run."""
    if progress:
        progress.start("unlock", count(engine, _COUNT_DUE, {"now": now}))
    result = JobResult(JOB)

    def done(unlocked: int) -> int:
        result.rows += unlocked
        result.batches += 1
        if progress:
            progress.advance(unlocked)
        return unlocked

    def batch(span: tuple[int, int] | None) -> int:
        return unlock_batch(engine, now, batch_size, span)

    run_batches(engine, batch, due_ids(engine, now, batch_size), done, workers)
    while done(batch(None)):
        pass  # the sweep: normally one empty batch
    log.info(
        "unlock: %d entries unlocked in %d batches",
        result.rows,
        result.batches,
        extra={"job": JOB, "rows": result.rows, "batches": result.batches},
    )
    return result
