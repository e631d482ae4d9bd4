"""Recalculation (SPEC 5): per organization and channel, the count of each state, and the
blacklisted/blocked entries split into *lost* and *never sent*, stored as a dated snapshot.

An entry is *lost* when its address had a delivery (from the entry's organization; from any
organization for a global entry) before the entry entered its current state, that is before
the latest transition that moved it there. Otherwise it is *never sent*. Domain entries
have no per-address deliveries, so they are counted by state but not split.

The database does the counting over id ranges of `entries` (one pass, index lookups for the
suppressed ones); Python only adds up one small row per (organization, channel) per range.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, desc, insert, select
from sqlalchemy.orm import Session

from bounce_worker.jobs.common import (
    JobResult,
    Progress,
    id_chunks,
    locked,
    log,
    run_batches,
    sql,
    transaction,
)
from bounce_worker.store.models import RecalculationStatRow

JOB = "recalculate"
STATES = ("active", "temporarily_blocked", "blacklisted", "blocked")
GLOBAL = ""  # organization of global entries; shown as "(global)"

_LOST = """
    e.state IN ('blacklisted', 'blocked') AND e.channel <> 'domain' AND EXISTS (
        SELECT 1 FROM deliveries d
        WHERE d.channel = e.channel AND d.address = e.address
          AND (e.scope = 'global' OR d.organization = e.organization)
          AND d.first_delivered_at < COALESCE(
              (SELECT MAX(t.occurred_at) FROM transitions t
               WHERE t.entry_id = e.id AND t.to_state = e.state
                 AND t.from_state <> t.to_state),
              e.updated_at))
"""

_CHUNK = sql(
    f"""
    SELECT e.organization, e.channel,
        SUM(CASE WHEN e.state = 'active' THEN 1 ELSE 0 END),
        SUM(CASE WHEN e.state = 'temporarily_blocked' THEN 1 ELSE 0 END),
        SUM(CASE WHEN e.state = 'blacklisted' THEN 1 ELSE 0 END),
        SUM(CASE WHEN e.state = 'blocked' THEN 1 ELSE 0 END),
        SUM(CASE WHEN {_LOST} THEN 1 ELSE 0 END),
        SUM(CASE WHEN e.state IN ('blacklisted', 'blocked') AND e.channel <> 'domain'
            THEN 1 ELSE 0 END)
    FROM entries e
    WHERE e.id >= :lo AND e.id < :hi AND e.deleted_at IS NULL
    GROUP BY e.organization, e.channel
    """
)


@locked(JOB)
def recalculate(
    engine: Engine,
    now: datetime,
    *,
    batch_size: int = 10_000,
    workers: int = 1,
    progress: Progress | None = None,
) -> JobResult:
    """Count every live entry and store one snapshot row per (organization, channel)."""
    with engine.connect() as conn:
        width, chunks = id_chunks(conn, "entries", batch_size)
    if progress:
        progress.start("recalculate", width)
    # [active, temporarily_blocked, blacklisted, blocked, lost, split] per group.
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 6)

    def count_chunk(span: tuple[int, int]) -> tuple[int, list[Any]]:
        lo, hi = span
        with transaction(engine, write=False) as conn:
            return hi - lo, list(conn.execute(_CHUNK, {"lo": lo, "hi": hi}))

    def add(counted: tuple[int, list[Any]]) -> None:
        for org, channel, *figures in counted[1]:
            group = totals[(org, channel)]
            for i, value in enumerate(figures):
                group[i] += int(value or 0)
        if progress:
            progress.advance(counted[0])

    run_batches(engine, count_chunk, chunks, add, workers)
    rows = [
        {
            "computed_at": now,
            "organization": org,
            "channel": channel,
            **dict(zip(STATES, figures[:4], strict=True)),
            "lost": figures[4],
            "never_sent": figures[5] - figures[4],
        }
        for (org, channel), figures in sorted(totals.items())
    ]
    with transaction(engine) as conn:
        if rows:
            conn.execute(insert(RecalculationStatRow), rows)
    entries = sum(sum(r[s] for s in STATES) for r in rows)
    log.info(
        "recalculate: %d entries counted into %d groups",
        entries,
        len(rows),
        extra={"job": JOB, "entries": entries, "groups": len(rows)},
    )
    return JobResult(JOB, rows=len(rows), batches=len(chunks), details={"entries": entries})


def latest_stats(engine: Engine, organization: str | None = None) -> list[RecalculationStatRow]:
    """The newest snapshot; for one organization, its rows and the global rows (both apply
    to its sends)."""
    with Session(engine) as session:
        latest = session.scalar(
            select(RecalculationStatRow.computed_at)
            .order_by(desc(RecalculationStatRow.computed_at))
            .limit(1)
        )
        if latest is None:
            return []
        stmt = select(RecalculationStatRow).where(RecalculationStatRow.computed_at == latest)
        if organization is not None:
            stmt = stmt.where(RecalculationStatRow.organization.in_([organization, GLOBAL]))
        stmt = stmt.order_by(RecalculationStatRow.organization, RecalculationStatRow.channel)
        return list(session.scalars(stmt))
