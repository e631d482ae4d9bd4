"""Nightly unlock: the boundary, re-runs, missed nights, batches, concurrent runs."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine, text

from bounce_worker.jobs import unlock_expired
from bounce_worker.jobs.common import JobResult, job_lock
from bounce_worker.jobs.unlock import due_ids, unlock_batch
from bounce_worker.store.models import TransitionRow
from tests.conftest import wait_until
from tests.integration.jobs_support import T0, count, entry, event, feed, unlock_transitions

US = timedelta(microseconds=1)
DAY = timedelta(days=1)


def test_unlocks_exactly_at_blocked_until(any_engine: Engine) -> None:
    # First mailbox-full error: blocked for one day from the event's time.
    feed(any_engine, event("full", "on-time@example.org", T0))
    feed(any_engine, event("full", "one-us-late@example.org", T0 + US))
    now = T0 + DAY
    assert entry(any_engine, "on-time@example.org").blocked_until == now
    assert entry(any_engine, "one-us-late@example.org").blocked_until == now + US

    result = unlock_expired(any_engine, now)

    assert (result.rows, result.skipped) == (1, False)
    on_time = entry(any_engine, "on-time@example.org")
    assert (on_time.state, on_time.reason, on_time.blocked_until) == (
        "active",
        "block_expired",
        None,
    )
    assert entry(any_engine, "one-us-late@example.org").state == "temporarily_blocked"
    [t] = unlock_transitions(any_engine)
    assert (t.entry_id, t.from_state, t.to_state) == (on_time.id, "temporarily_blocked", "active")
    assert t.occurred_at == now  # when the block ended, not when the job ran

    assert unlock_expired(any_engine, now + US).rows == 1
    assert entry(any_engine, "one-us-late@example.org").state == "active"


def test_rerun_changes_nothing(any_engine: Engine) -> None:
    feed(any_engine, *(event("full", f"r{i}@example.org", T0) for i in range(5)))
    now = T0 + 2 * DAY
    assert unlock_expired(any_engine, now).rows == 5
    before = count(any_engine, TransitionRow)
    again = unlock_expired(any_engine, now)
    assert again.rows == 0
    assert count(any_engine, TransitionRow) == before


def test_missed_nights_are_caught_up(any_engine: Engine) -> None:
    # Three blocks ending on three different nights; the job did not run for a week.
    for day in range(3):
        feed(any_engine, event("full", f"night{day}@example.org", T0 + day * DAY))
    result = unlock_expired(any_engine, T0 + 7 * DAY)
    assert result.rows == 3
    ends = sorted(t.occurred_at for t in unlock_transitions(any_engine))
    assert ends == [T0 + (day + 1) * DAY for day in range(3)]


def test_batches_cover_everything_and_leave_the_rest(any_engine: Engine) -> None:
    feed(any_engine, *(event("full", f"b{i}@example.org", T0) for i in range(7)))
    # A hard bounce and a block that has not ended yet sit among them.
    feed(
        any_engine,
        event("hard", "gone@example.org", T0),
        event("full", "later@x.org", T0 + 5 * DAY),
    )
    feed(any_engine, *(event("full", f"c{i}@example.org", T0) for i in range(4)))
    result = unlock_expired(any_engine, T0 + 2 * DAY, batch_size=3)
    assert result.rows == 11
    assert result.batches >= 4  # id ranges of 3 plus the final (empty) sweep
    assert len(unlock_transitions(any_engine)) == 11
    assert entry(any_engine, "later@x.org").state == "temporarily_blocked"
    assert entry(any_engine, "gone@example.org").state == "blocked"


def _race(targets: list, *args: object) -> list:  # type: ignore[type-arg]
    """Run each target at the same moment in its own thread; their results in order."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)  # type: ignore[type-arg]

    def run(i: int) -> None:
        barrier.wait()
        results[i] = targets[i](*args)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_two_concurrent_runs_unlock_each_entry_once(pg_engine: Engine) -> None:
    feed(pg_engine, *(event("full", f"p{i}@example.org", T0) for i in range(200)))
    now = T0 + 2 * DAY
    results = _race([unlock_expired, unlock_expired], pg_engine, now)
    assert sum(r.rows for r in results) == 200
    assert len(unlock_transitions(pg_engine)) == 200
    assert len({t.entry_id for t in unlock_transitions(pg_engine)}) == 200


def test_concurrent_batches_without_the_lock_still_apply_once(pg_engine: Engine) -> None:
    # Bypass the advisory lock: the statement itself must not unlock a row twice.
    feed(pg_engine, *(event("full", f"q{i}@example.org", T0) for i in range(300)))
    now = T0 + 2 * DAY
    [span] = due_ids(pg_engine, now, 10_000)

    def batch(*_: object) -> int:
        return unlock_batch(pg_engine, now, 10_000, span)

    def sweep(*_: object) -> int:
        return unlock_batch(pg_engine, now, 10_000, None)

    results = _race([batch, batch, sweep])
    assert sum(results) == 300
    transitions = unlock_transitions(pg_engine)
    assert len(transitions) == len({t.entry_id for t in transitions}) == 300


def test_entries_changed_while_the_run_waits_are_rechecked(pg_engine: Engine) -> None:
    # Another transaction holds both rows while the unlock reaches them: one block is
    # extended (no longer due), the other entry only has a counter changed (still due).
    feed(pg_engine, event("full", "extended@example.org", T0))
    feed(pg_engine, event("full", "touched@example.org", T0))
    now = T0 + 2 * DAY
    results: list[JobResult] = []
    with pg_engine.connect() as other:
        other.execute(
            text(
                "UPDATE entries SET blocked_until = blocked_until + interval '10 days'"
                " WHERE address = 'extended@example.org'"
            )
        )
        other.execute(
            text(
                "UPDATE entries SET soft_bounce_count = soft_bounce_count + 1"
                " WHERE address = 'touched@example.org'"
            )
        )
        run = threading.Thread(target=lambda: results.append(unlock_expired(pg_engine, now)))
        run.start()
        wait_until(lambda: _waiting_on_a_row_lock(pg_engine))
        other.commit()
        run.join(timeout=120)
    assert [r.rows for r in results] == [1]
    assert entry(pg_engine, "extended@example.org").state == "temporarily_blocked"
    touched = entry(pg_engine, "touched@example.org")
    assert (touched.state, touched.soft_bounce_count) == ("active", 1)
    assert [t.entry_id for t in unlock_transitions(pg_engine)] == [touched.id]


def _waiting_on_a_row_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()
    return bool(waiting)


def test_a_run_that_finds_the_lock_taken_skips(pg_engine: Engine) -> None:
    feed(pg_engine, event("full", "held@example.org", T0))
    with job_lock(pg_engine, "unlock") as acquired:
        assert acquired
        result = unlock_expired(pg_engine, T0 + 2 * DAY)
    assert (result.skipped, result.rows) == (True, 0)
    assert entry(pg_engine, "held@example.org").state == "temporarily_blocked"
    assert unlock_expired(pg_engine, T0 + 2 * DAY).rows == 1  # lock released after the run
