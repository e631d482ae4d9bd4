"""One transaction naming more entry keys than PostgreSQL's shared lock table holds (a
webhook delivery of thousands of events, `publish --batch-size 20000`): it takes the wide
lock instead of a key lock each (store/keys.py) and is applied, where 40,000 key locks made
"out of shared memory", a transient error retried forever. And it still excludes the other
writers: it waits for one that holds a key lock (the wide lock shared)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from bounce_worker.domain.policy import PolicySettings
from bounce_worker.service import Result, process_payloads, sources
from bounce_worker.store.keys import MAX_KEY_LOCKS, EntryKey
from bounce_worker.store.models import EntryRow
from bounce_worker.store.uow import UnitOfWork

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
POLICY = PolicySettings()


def hard_bounces(count: int, prefix: str) -> list[dict[str, str]]:
    return [
        {
            "event_id": f"{prefix}-{n}",
            "type": "bounce",
            "recipient": f"{prefix}{n}@example.org",
            "smtp_code": "550",
            "status": "5.1.1",
            "occurred_at": NOW.isoformat(),
        }
        for n in range(count)
    ]


def apply(engine: Engine, items: list[dict[str, str]]) -> list[Result]:
    return process_payloads(engine, items, sources("t", len(items)), policy=POLICY, now=NOW)


def test_more_keys_than_the_lock_table_holds_apply_in_one_call(pg_engine: Engine) -> None:
    count = 40_000  # key locks: "out of shared memory" on a default PostgreSQL (64 per connection)
    assert count > MAX_KEY_LOCKS
    results = apply(pg_engine, hard_bounces(count, "wide"))
    assert results == [Result.APPLIED] * count
    with pg_engine.connect() as conn:
        blocked = select(func.count()).where(EntryRow.state == "blocked")
        assert conn.execute(blocked.select_from(EntryRow)).scalar() == count


def test_the_wide_transaction_waits_for_a_writer_holding_a_key(pg_engine: Engine) -> None:
    key = EntryKey("email", "held@example.org", "global")
    uow = UnitOfWork(pg_engine)
    with uow:
        uow.lock_entry(key, "held@example.org", NOW)  # an operator's action, not committed
        done = threading.Event()
        big = threading.Thread(
            target=lambda: (apply(pg_engine, hard_bounces(MAX_KEY_LOCKS + 1, "big")), done.set())
        )
        big.start()
        assert not done.wait(1.5), "the wide transaction ran beside a key lock holder"
        uow.commit()
    big.join(60)
    assert done.is_set()
