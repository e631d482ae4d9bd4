"""The batched path: many events, one transaction, a handful of statements.

The result is the one `service.apply_event` gives applying the same events one by one in
the order of their `occurred_at` (ties keep the message's order): the same pure policy
(`service.apply_outcome` -> `policy.decide`) runs per event, in memory, on entries that
were loaded and locked once for the whole batch. What changes is the number of round
trips: one multi-row claim of the event ids, one upsert and one locking select for the
entries (sorted keys, so concurrent workers cannot deadlock), one delivery upsert, and
the ORM's batched UPDATE/INSERT of entries and transitions at commit.

An item that does not decode or validate is dead-lettered in the same transaction and
the rest of the batch is applied: one bad event never fails its batch, and a retried
batch never stores its dead letters twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import Event, InvalidEvent
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.service import (
    PayloadTooLarge,
    Result,
    apply_outcome,
    as_bytes,
    check_size,
    decode_event,
    entry_keys,
    event_json,
    log_dead_letter,
)
from bounce_worker.store.bulk import STATE_COLUMNS, BulkUnitOfWork
from bounce_worker.store.uow import EntryKey

DeliveryKey = tuple[str, str, str]


def process_batch(
    engine: Engine,
    payloads: Sequence[Any],
    *,
    source: str | None,
    policy: PolicySettings,
    now: datetime,
    max_bytes: int | None = None,
) -> Counter[Result]:
    """Decode, validate and apply many events in one unit of work; counts by result."""
    results: Counter[Result] = Counter()
    events: list[Event] = []
    invalid: list[tuple[str, str | None, bytes, str]] = []
    for index, payload in enumerate(payloads):
        where = source if len(payloads) == 1 else f"{source}#{index}"
        try:
            check_size(payload, max_bytes)
            events.append(decode_event(payload))
        except PayloadTooLarge as exc:  # keep only the first `limit` bytes of a huge payload
            invalid.append(("event", where, as_bytes(payload)[: exc.limit], str(exc)))
        except InvalidEvent as exc:
            invalid.append(("event", where, as_bytes(payload), str(exc)))
    with BulkUnitOfWork(engine) as uow:
        dead_ids = uow.add_dead_letters(invalid, now)
        results[Result.DEAD_LETTERED] = len(dead_ids)
        results.update(apply_events(uow, events, policy, now))
        uow.commit()
    for dead_id, (kind, where, _payload, reason) in zip(dead_ids, invalid, strict=True):
        log_dead_letter(dead_id, kind, where, reason)
    return +results  # drop zero counts


def apply_events(
    uow: BulkUnitOfWork, events: Sequence[Event], policy: PolicySettings, now: datetime
) -> Counter[Result]:
    """Apply valid events inside the caller's unit of work (the caller commits)."""
    results: Counter[Result] = Counter()
    ordered = sorted(events, key=lambda e: e.occurred_at)  # stable: ties keep message order
    claimed = uow.claim_events(
        list({e.event_id: event_json(e) for e in reversed(ordered)}.items()), now
    )
    todo: list[Event] = []
    for event in ordered:
        if event.event_id in claimed:
            claimed.discard(event.event_id)  # a second copy inside the batch is a duplicate
            todo.append(event)
        else:
            results[Result.DUPLICATE] += 1

    plans = []
    creates: dict[EntryKey, str] = {}
    touches: set[EntryKey] = set()
    deliveries: dict[DeliveryKey, tuple[datetime, datetime]] = {}
    for event in todo:
        outcome = classify(event)
        if outcome.category is Category.IGNORED:
            # Claimed, so a redelivery is a duplicate; nothing to suppress, no entry made.
            plans.append((event, outcome, [], False))
            continue
        keys, create = entry_keys(event, outcome)
        plans.append((event, outcome, keys, create))
        if outcome.category is Category.DELIVERED:
            _count_delivery(deliveries, keys[0], event)
        if create:
            creates.setdefault(keys[0], event.recipient)  # displayed as first given
        else:
            touches.update(keys)
    rows, created = uow.lock_entries(creates, touches, now) if creates or touches else ({}, set())
    uow.record_deliveries(deliveries)

    # Entries created by this batch exist, for a delivery or an opt-in, only from the
    # first event that created them on: exactly what one-by-one application would see.
    exists = set(rows) - created
    before = {key: _state(row) for key, row in rows.items()}
    for event, outcome, keys, create in plans:
        results[Result.APPLIED] += 1
        if create:
            exists.add(keys[0])
        for key in keys:
            if key in exists:
                apply_outcome(uow, rows[key], outcome, event, policy, now)
    uow.write_back([row for key, row in rows.items() if _state(row) != before[key]])
    return results


def _state(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in STATE_COLUMNS)


def _count_delivery(
    deliveries: dict[DeliveryKey, tuple[datetime, datetime]], key: EntryKey, event: Event
) -> None:
    """One upsert row per address and organization, as the one-by-one upserts leave it:
    first = the first delivery applied, last = the latest occurred_at."""
    dkey = (key.channel, key.address, event.organization or "")
    at = event.occurred_at
    seen = deliveries.get(dkey)
    deliveries[dkey] = (at, at) if seen is None else (seen[0], max(seen[1], at))
