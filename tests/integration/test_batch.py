"""The one writer equals the one-by-one reference (tests/reference.py), on SQLite and
PostgreSQL.

Random feeds over a handful of addresses (so events collide on the same entries, inside a
batch and across batches), with duplicates and invalid items, are applied twice: one event
per unit of work through the reference, and in batches through the writer
(`service.process_payloads` -> `apply.apply_events`). Every table must end up the same.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bounce_worker.domain.policy import PolicySettings
from bounce_worker.service import Result, decode_event, process_payloads, sources
from bounce_worker.store.models import (
    DeadLetterRow,
    EntryRow,
)
from bounce_worker.store.snapshot import snapshot
from bounce_worker.store.uow import UnitOfWork
from tests.conftest import truncate
from tests.reference import process_payload

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
POLICY = PolicySettings(soft_bounce_limit=3)
START = datetime(2026, 11, 1, tzinfo=UTC)

KINDS: list[dict[str, Any]] = [
    {"type": "bounce", "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown"},
    {"type": "bounce", "status": "5.2.2", "diagnostic": "552 5.2.2 mailbox full"},
    {"type": "bounce", "status": "4.4.1", "diagnostic": "451 4.4.1 timeout"},
    {"type": "bounce", "status": "4.4.1", "diagnostic": "451 4.4.1 timeout"},
    {"type": "bounce", "status": "5.7.1", "diagnostic": "550 5.7.1 spam block"},
    {"type": "complaint", "feedback_type": "abuse"},
    {"type": "complaint", "feedback_type": "not-spam"},
    {"type": "unsubscribe"},
    {"type": "delivered"},
    {"type": "delivered"},
    {"type": "opt_in"},
]
INVALID: list[Any] = ["{broken", {"type": "bounce"}, {"event_id": "bad", "type": "x"}, 7]


def process_batch(
    engine: Engine, items: list[Any], *, source: str, policy: PolicySettings, now: datetime
) -> Counter[Result]:
    """One message's items through the writer, counted by result (as the task counts)."""
    where = sources(source, len(items))
    return Counter(process_payloads(engine, items, where, policy=policy, now=now))


def feed(rng: random.Random, size: int) -> list[Any]:
    items: list[Any] = []
    ids: list[str] = []
    for n in range(size):
        roll = rng.random()
        if roll < 0.05:
            items.append(rng.choice(INVALID))
            continue
        event: dict[str, Any] = {
            **rng.choice(KINDS),
            "event_id": rng.choice(ids) if ids and roll < 0.12 else f"e-{n}",
            "recipient": rng.choice(["a@example.org", "A@Example.org", "b@example.net"]),
            "organization": rng.choice(["acme", "acme", "globex", None]),
            "list": rng.choice([None, None, "news"]),
            # Hours apart with ties, over ~12 days: outages end, ladders climb and reset.
            "occurred_at": (START + timedelta(hours=rng.randrange(300))).isoformat(),
        }
        ids.append(event["event_id"])
        items.append(event)
    return items


def one_by_one(engine: Engine, batches: list[list[Any]]) -> None:
    """The reference: each batch's events in occurred order, one unit of work each."""
    for items in batches:
        valid = []
        for item in items:
            try:
                valid.append((decode_event(item).occurred_at, item))
            except ValueError:
                process_payload(engine, item, source="ref", policy=POLICY, now=NOW)
        for _at, item in sorted(valid, key=lambda pair: pair[0]):
            process_payload(engine, item, source="ref", policy=POLICY, now=NOW)


@pytest.mark.parametrize("seed", range(12))
def test_batches_equal_one_by_one(any_engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    items = feed(rng, 120)
    cuts = sorted(rng.sample(range(1, len(items)), 3))
    batches = [items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)]

    truncate(any_engine)
    one_by_one(any_engine, batches)
    expected = snapshot(any_engine, clock=True)

    truncate(any_engine)
    for n, items_ in enumerate(batches):
        process_batch(any_engine, items_, source=f"b{n}", policy=POLICY, now=NOW)
    actual = snapshot(any_engine, clock=True)

    assert expected["transitions"], "the feed must produce some history"
    assert actual == expected


def test_redelivered_batch_changes_nothing_and_counts(any_engine: Engine) -> None:
    items = feed(random.Random(99), 60)
    first = process_batch(any_engine, items, source="t", policy=POLICY, now=NOW)
    before = snapshot(any_engine, clock=True)
    again = process_batch(any_engine, items, source="t", policy=POLICY, now=NOW)
    after = snapshot(any_engine, clock=True)
    valid = sum(
        1 for i in items if not isinstance(i, str | int) and i in items and "recipient" in i
    )
    assert first[Result.APPLIED] + first[Result.DUPLICATE] == valid
    assert again[Result.APPLIED] == 0 and again[Result.DUPLICATE] == valid
    # Only the dead letters repeat: a bad item is kept every time it is received.
    assert len(after["dead"]) == 2 * len(before["dead"]) > 0
    assert {k: v for k, v in after.items() if k != "dead"} == {
        k: v for k, v in before.items() if k != "dead"
    }


def test_bad_item_is_dead_lettered_rest_applied(any_engine: Engine) -> None:
    good = {
        "event_id": "g-1",
        "type": "bounce",
        "recipient": "gone@example.org",
        "status": "5.1.1",
        "occurred_at": "2026-11-22T10:00:00Z",
    }
    bad = dict(good, event_id="g-2", recipient="not an address")
    counts = process_batch(any_engine, [bad, good, "{x"], source="task:t", policy=POLICY, now=NOW)
    assert counts == {Result.APPLIED: 1, Result.DEAD_LETTERED: 2}
    with UnitOfWork(any_engine) as uow:
        dead = list(uow.session.scalars(select(DeadLetterRow).order_by(DeadLetterRow.id)))
        state = uow.session.scalars(select(EntryRow.state)).one()
    assert [
        (d.source, json.loads(d.payload)["event_id"] if d.source.endswith("#0") else d.payload)
        for d in dead
    ] == [
        ("task:t#0", "g-2"),
        ("task:t#2", b"{x"),
    ]
    assert state == "blocked"


def test_groups_that_create_and_touch_the_same_entries_in_turn_never_deadlock(
    pg_engine: Engine,
) -> None:
    """Group A creates x's entry and touches y's, group B the other way round, at the same
    time: without the ordered key locks (store/keys.py, store/writer_pg.py) the two statements of each lock
    rows in opposite orders and PostgreSQL kills one with "deadlock detected"."""
    from concurrent.futures import ThreadPoolExecutor

    def event(n: int, kind: str, address: str) -> dict[str, Any]:
        fields = KINDS[0] if kind == "bounce" else {"type": "delivered"}
        return {
            **fields,
            "event_id": f"{kind}-{address}-{n}",
            "recipient": f"{address}@example.org",
            "organization": "acme",
            "occurred_at": (START + timedelta(minutes=n)).isoformat(),
        }

    size, rounds = 200, 10
    # Every address starts blocked, so a delivery locks its entry and a bounce re-locks it.
    seeds = [{**event(0, "bounce", f"{c}{i}"), "event_id": f"seed-{c}{i}"}
             for i in range(size) for c in "xy"]  # fmt: skip
    process_batch(pg_engine, seeds, source="seed", policy=POLICY, now=NOW)

    def group(n: int, bounced: str, delivered: str) -> Any:
        items = [event(n, "bounce", f"{bounced}{i}") for i in range(size)]
        items += [event(n + 1, "delivered", f"{delivered}{i}") for i in range(size)]
        return process_batch(pg_engine, items, source="t", policy=POLICY, now=NOW)

    with ThreadPoolExecutor(2) as pool:
        for n in range(1, rounds + 1):
            a = pool.submit(group, n, "x", "y")
            b = pool.submit(group, n, "y", "x")
            assert a.result()[Result.APPLIED] == b.result()[Result.APPLIED] == 2 * size
    with UnitOfWork(pg_engine) as uow:
        blocked = uow.session.scalars(select(EntryRow).where(EntryRow.state == "blocked"))
        assert len({row.address for row in blocked}) == 2 * size
