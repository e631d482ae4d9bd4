"""Housekeeping: stale escalation counts reset, only what is past retention purged."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from bounce_worker import service
from bounce_worker.domain.policy import effective_temp_block_count
from bounce_worker.jobs import housekeeping, recalculate, unlock_expired
from bounce_worker.store.models import (
    DeadLetterRow,
    ProcessedEventRow,
    RecalculationStatRow,
    TransitionRow,
)
from bounce_worker.store.uow import UnitOfWork
from bounce_worker.store.writer import to_entry
from tests.integration.jobs_support import POLICY, T0, count, entry, event, feed

DAY = timedelta(days=1)
QUIET = POLICY.quiet_period  # 90 days
RETENTION = timedelta(days=30)


def _run(engine: Engine, now):  # type: ignore[no-untyped-def]
    return housekeeping(
        engine, now, quiet_period=QUIET, retention=RETENTION, batch_size=2, workers=2
    )


def test_resets_escalation_counts_after_the_quiet_period(any_engine: Engine) -> None:
    # Two mailbox errors each: the second block ends at T0 + 1d + 2d (ladder 1, 2).
    for address, start in (("stale@example.org", T0), ("fresh@example.org", T0 + DAY)):
        feed(any_engine, event("full", address, start), event("full", address, start + 2 * DAY))
    stale_end = entry(any_engine, "stale@example.org").temp_block_last_end
    assert stale_end == T0 + 4 * DAY
    now = stale_end + QUIET  # exactly one quiet period after the stale block ended
    unlock_expired(any_engine, now)
    transitions = count(any_engine, TransitionRow)

    result = _run(any_engine, now)

    stale, fresh = entry(any_engine, "stale@example.org"), entry(any_engine, "fresh@example.org")
    assert result.details["counts_reset"] == 1
    assert (stale.temp_block_count, fresh.temp_block_count) == (0, 2)
    # The job wrote back exactly what the lazy rule already said.
    for row, before in ((stale, 2), (fresh, 2)):
        lazy = effective_temp_block_count(to_entry(row), now, POLICY)
        assert row.temp_block_count == lazy
        assert before >= lazy
    assert count(any_engine, TransitionRow) == transitions  # silent, like a delivery reset
    # The next error after the reset starts the ladder again: one day.
    feed(any_engine, event("full", "stale@example.org", now))
    assert entry(any_engine, "stale@example.org").blocked_until == now + DAY


def test_purges_only_what_is_past_retention(any_engine: Engine) -> None:
    now = T0 + 100 * DAY
    old, recent = now - RETENTION - timedelta(seconds=1), now - RETENTION
    old_event = event("hard", "old@example.org", T0)
    service.process_payload(any_engine, old_event, source="t", policy=POLICY, now=old)
    feed(any_engine, event("hard", "new@example.org", T0), now=recent)
    for at in (old, recent):
        service.dead_letter(any_engine, "event", "t", b"{broken", "not valid JSON", at)
    recalculate(any_engine, old)  # an old snapshot, and one that is the newest
    recalculate(any_engine, recent)
    transitions = count(any_engine, TransitionRow)

    result = _run(any_engine, now)

    assert result.details == {
        "counts_reset": 0,
        "payloads_purged": 1,
        "dead_letters_purged": 1,
        "stats_purged": 1,  # the old snapshot (one group); the newest is kept
    }
    with UnitOfWork(any_engine) as uow:
        events = {e.processed_at: e.payload for e in uow.session.scalars(select(ProcessedEventRow))}
        letters = [d.received_at for d in uow.session.scalars(select(DeadLetterRow))]
        snapshots = set(uow.session.scalars(select(RecalculationStatRow.computed_at)))
    assert events[old] is None and events[recent] is not None  # id rows both kept
    assert letters == [recent]
    assert snapshots == {recent}
    assert count(any_engine, TransitionRow) == transitions
    # The blanked event is still recognised: a redelivery is a duplicate.
    again = service.process_payload(any_engine, old_event, source="t", policy=POLICY, now=now)
    assert again is service.Result.DUPLICATE
    # Re-running changes nothing.
    assert _run(any_engine, now).rows == 0


def test_newest_snapshot_survives_even_past_retention(any_engine: Engine) -> None:
    feed(any_engine, event("hard", "x@example.org", T0))
    recalculate(any_engine, T0)
    assert _run(any_engine, T0 + 365 * DAY).details["stats_purged"] == 0
    assert count(any_engine, RecalculationStatRow) == 1
