"""Two worker processes, four pool processes each, on 100 hot addresses: every mailbox-full
bounce of a round arrives several times over, shuffled, with soft bounces mixed in. The
entry lock must serialize them: the ladder climbs exactly once per round, and no soft bounce
is lost to a concurrent write (a lost update would show as a smaller count)."""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bounce_worker import jobs
from bounce_worker.store.models import EntryRow, ProcessedEventRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import Worker, set_env, wait_until
from tests.faults.conftest import (
    BASE,
    cleanup_queue,
    count,
    instant,
    queue_drained,
    spawn_cli,
    write_feed,
)

ADDRESSES = 100
ROUND_DAYS = (0, 10, 20, 30)  # each round after the previous block ended (1, 2, 3 days)
COPIES = 3  # the same outage reported by three MTAs: one escalation, three history rows
SOFT_PER_ROUND = 2


def round_events(r: int, day: int) -> list[dict[str, object]]:
    at = instant(BASE + timedelta(days=day))
    events: list[dict[str, object]] = []
    for a in range(ADDRESSES):
        rcpt = f"hot{a}@busy.example"
        for c in range(COPIES):
            events.append(
                {"event_id": f"hot-{r}-{a}-full-{c}", "type": "bounce", "recipient": rcpt,
                 "status": "5.2.2", "diagnostic": "552 5.2.2 mailbox full", "occurred_at": at}
            )  # fmt: skip
        for s in range(SOFT_PER_ROUND):
            events.append(
                {"event_id": f"hot-{r}-{a}-soft-{s}", "type": "bounce", "recipient": rcpt,
                 "status": "4.4.1", "occurred_at": at, "organization": "busy"}
            )  # fmt: skip
    random.Random(r).shuffle(events)
    return events


def test_concurrent_workers_on_hot_addresses_escalate_exactly(
    worker_env: Engine, monkeypatch: pytest.MonkeyPatch, redis_url: str, tmp_path: Path
) -> None:
    set_env(monkeypatch, soft_bounce_limit="1000")  # count soft bounces, never blacklist
    queue = os.environ["BOUNCE_WORKER_QUEUE"]
    workers = [Worker(concurrency=4), Worker(concurrency=4)]
    published = 0
    try:
        for w in workers:
            w.start()
        for r, day in enumerate(ROUND_DAYS):
            if r:  # the nightly unlock between rounds, once the previous block has ended
                jobs.unlock_expired(worker_env, now=BASE + timedelta(days=day - 1))
            feed = write_feed(tmp_path / f"round{r}.jsonl", round_events(r, day))
            assert spawn_cli(["publish", "--batch-size", "1", str(feed)]).wait(timeout=300) == 0
            published += ADDRESSES * (COPIES + SOFT_PER_ROUND)
            wait_until(
                lambda n=published: (
                    count(worker_env, ProcessedEventRow) == n and queue_drained(redis_url, queue)
                ),
                timeout=180,
            )
    finally:
        for w in workers:
            w.stop()
        cleanup_queue(redis_url, queue)

    rounds = len(ROUND_DAYS)
    with UnitOfWork(worker_env) as uow:
        entries = list(uow.session.scalars(select(EntryRow)))
        history = Counter(
            (t.entry_id, t.from_state, t.to_state, t.reason)
            for t in uow.session.scalars(select(TransitionRow))
        )
    # Mailbox errors climb the global entry; soft bounces count on the sender's entry (a
    # soft bounce without an organization would be unattributed, SPEC 7).
    global_entries = [e for e in entries if e.scope == "global"]
    org_entries = {e.address: e for e in entries if e.scope == "organization"}
    assert len(global_entries) == len(org_entries) == ADDRESSES == len(entries) // 2
    last_block = timedelta(days=90)  # the fourth step of the 1, 2, 3, 90 ladder
    for e in global_entries:
        assert e.temp_block_count == rounds, e.address
        assert e.blocked_until == BASE + timedelta(days=ROUND_DAYS[-1]) + last_block
        org = org_entries[e.address]
        assert org.soft_bounce_count == rounds * SOFT_PER_ROUND, e.address
        climbs = history[(e.id, "active", "temporarily_blocked", "mailbox_full")]
        repeats = history[(e.id, "temporarily_blocked", "temporarily_blocked", "mailbox_full")]
        assert (climbs, repeats) == (rounds, rounds * (COPIES - 1)), e.address
        soft = sum(
            n for (i, _f, _t, reason), n in history.items()
            if i == org.id and reason == "soft_bounce"
        )  # fmt: skip
        assert soft == rounds * SOFT_PER_ROUND
    print(
        f"\nhot addresses: {ADDRESSES} addresses, {published} events on 2 workers x 4 processes,"
        f" escalations {rounds} per address, exact for {len(global_entries)} of {ADDRESSES}"
    )
