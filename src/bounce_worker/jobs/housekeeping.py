"""Housekeeping (SPEC 3 and 5): forget stale escalation counts, purge what is past retention.

- Escalation counts: `policy.effective_temp_block_count` already ignores a count whose last
  temporary block ended a quiet period ago; this job writes that rule back (count 0), so
  reports and `status` show what the next mailbox error will see. Silent, like the reset
  on delivery: no transition.
- Raw event payloads (`processed_events.payload`) past retention are blanked; the id row
  stays, so a redelivered old event is still recognised as a duplicate.
- Dead letters received before the retention cutoff are deleted, and so are
  recalculation snapshots older than it (the newest is always kept).
- Transitions are never touched: they are the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from bounce_worker.domain.policy import STALE_COUNT_SQL
from bounce_worker.jobs.common import (
    JobResult,
    Progress,
    count,
    id_chunks,
    locked,
    log,
    run_batches,
    sql,
    transaction,
)
from bounce_worker.store.models import UTCDateTime

JOB = "housekeeping"

# policy.effective_temp_block_count, as SQL beside it in domain/policy.py.
_RESET_CHUNK = sql(
    f"""
    UPDATE entries SET temp_block_count = 0, updated_at = :now
    WHERE id >= :lo AND id < :hi AND {STALE_COUNT_SQL}
    """
)

# Keyset walk over the processed_at index: each batch starts where the last one ended, so
# rows already blanked are never scanned again. Ties at the batch edge are all taken.
_PAYLOAD_FILTER = "processed_at >= :after AND processed_at < :cutoff AND payload IS NOT NULL"
_PAYLOAD_EDGE = sql(
    f"""
    SELECT MAX(processed_at) AS upper FROM (
        SELECT processed_at FROM processed_events WHERE {_PAYLOAD_FILTER}
        ORDER BY processed_at LIMIT :batch) AS b
    """
).columns(upper=UTCDateTime())
_PAYLOAD_PURGE = sql(
    f"UPDATE processed_events SET payload = NULL WHERE {_PAYLOAD_FILTER} AND processed_at <= :upper"
)
_PAYLOAD_COUNT = sql(
    "SELECT COUNT(*) FROM processed_events WHERE processed_at < :cutoff AND payload IS NOT NULL"
)

_DEAD_PURGE = sql(
    """
    DELETE FROM dead_letters WHERE id IN (
        SELECT id FROM dead_letters WHERE received_at < :cutoff
        ORDER BY received_at LIMIT :batch)
    """
)
_DEAD_COUNT = sql("SELECT COUNT(*) FROM dead_letters WHERE received_at < :cutoff")

_STATS_PURGE = sql(
    """
    DELETE FROM recalculation_stats WHERE computed_at < :cutoff
      AND computed_at < (SELECT MAX(computed_at) FROM recalculation_stats)
    """
)

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@locked(JOB)
def housekeeping(
    engine: Engine,
    now: datetime,
    *,
    quiet_period: timedelta,
    retention: timedelta,
    batch_size: int = 10_000,
    workers: int = 1,
    progress: Progress | None = None,
) -> JobResult:
    """Reset stale counts and purge what is past `retention` before `now`. Safe to re-run."""
    result = JobResult(JOB)
    cutoff = now - retention
    _reset_counts(engine, now, now - quiet_period, batch_size, workers, progress, result)
    _purge_payloads(engine, cutoff, batch_size, progress, result)
    _purge_dead_letters(engine, cutoff, batch_size, progress, result)
    with transaction(engine) as conn:
        result.details["stats_purged"] = conn.execute(_STATS_PURGE, {"cutoff": cutoff}).rowcount
    result.rows = sum(result.details.values())
    log.info(
        "housekeeping: %d counts reset, %d payloads and %d dead letters purged",
        result.details["counts_reset"],
        result.details["payloads_purged"],
        result.details["dead_letters_purged"],
        extra={"job": JOB, **result.details},
    )
    return result


def _reset_counts(
    engine: Engine,
    now: datetime,
    stale_before: datetime,
    batch: int,
    workers: int,
    progress: Progress | None,
    result: JobResult,
) -> None:
    with engine.connect() as conn:
        width, chunks = id_chunks(conn, "entries", batch)
    if progress:
        progress.start("reset stale escalation counts", width)
    result.details["counts_reset"] = 0

    def reset(span: tuple[int, int]) -> tuple[int, int]:
        params = {"now": now, "stale_before": stale_before, "lo": span[0], "hi": span[1]}
        with transaction(engine) as conn:
            return span[1] - span[0], conn.execute(_RESET_CHUNK, params).rowcount

    def done(out: tuple[int, int]) -> None:
        result.details["counts_reset"] += out[1]
        result.batches += 1
        if progress:
            progress.advance(out[0])

    run_batches(engine, reset, chunks, done, workers)


def _purge_payloads(
    engine: Engine, cutoff: datetime, batch: int, progress: Progress | None, result: JobResult
) -> None:
    if progress:
        progress.start("purge event payloads", count(engine, _PAYLOAD_COUNT, {"cutoff": cutoff}))
    done, after = 0, _EPOCH
    while True:
        params = {"after": after, "cutoff": cutoff, "batch": batch}
        with transaction(engine) as conn:
            upper = conn.execute(_PAYLOAD_EDGE, params).scalar()
            if upper is None:
                break
            purged = conn.execute(_PAYLOAD_PURGE, params | {"upper": upper}).rowcount
        done, after = done + purged, upper
        result.batches += 1
        if progress:
            progress.advance(purged)
    result.details["payloads_purged"] = done


def _purge_dead_letters(
    engine: Engine, cutoff: datetime, batch: int, progress: Progress | None, result: JobResult
) -> None:
    if progress:
        progress.start("purge dead letters", count(engine, _DEAD_COUNT, {"cutoff": cutoff}))
    done = 0
    while True:
        with transaction(engine) as conn:
            purged = conn.execute(_DEAD_PURGE, {"cutoff": cutoff, "batch": batch}).rowcount
        if not purged:
            break
        done += purged
        result.batches += 1
        if progress:
            progress.advance(purged)
    result.details["dead_letters_purged"] = done
