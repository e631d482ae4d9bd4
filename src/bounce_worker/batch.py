"""The batched path: many events, one transaction, two round trips on PostgreSQL.

The result is the one `service.apply_event` gives applying the same events one by one in
the order of their `occurred_at` (ties keep the message's order): the same pure policy
(`service.apply_outcome` -> `policy.decide`) runs per event, in memory, on entries that
were loaded and locked once for the whole batch. What changes is the number of round
trips: the claim of the event ids and the create-or-lock of their entries go together
(store/bulk_pg.py), then every write goes with the COMMIT. A single event takes this
path too (tasks.process_event): two round trips is the fewest a durable commit allows.

Claiming and locking together means locking for events not yet known to be new: when some
turn out to be duplicates (a redelivery; rare), the transaction is rolled back and redone
for the new ones only, so a duplicate never creates an entry.

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

from bounce_worker.domain.classify import Category, Outcome, classify
from bounce_worker.domain.events import Event, InvalidEvent
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.domain.trust import admit
from bounce_worker.observability.logs import about_message
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
from bounce_worker.store.bulk import STATE_COLUMNS, BulkUnitOfWork, bulk_unit_of_work
from bounce_worker.store.uow import EntryKey

DeliveryKey = tuple[str, str, str]
# What an event acts on: (outcome, entry keys, whether it creates them).
Plan = tuple[Outcome, list[EntryKey], bool]


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
    return Counter(
        process_each(
            engine,
            payloads,
            sources(source, len(payloads)),
            policy=policy,
            now=now,
            max_bytes=max_bytes,
        )
    )


def sources(source: str | None, count: int) -> list[str | None]:
    """Where each item of a message came from, as its dead letter says: `task:ID#INDEX`."""
    return [source if count == 1 else f"{source}#{i}" for i in range(count)]


def process_each(
    engine: Engine,
    payloads: Sequence[Any],
    sources: Sequence[str | None],
    *,
    policy: PolicySettings,
    now: datetime,
    max_bytes: int | None = None,
    task_ids: Sequence[str] | None = None,
) -> list[Result]:
    """process_batch with a source per payload (where a dead letter says it came from)
    and, when each payload was a message of its own, its task id (for the log lines);
    one result per payload, in order."""
    results: list[Result] = [Result.DEAD_LETTERED] * len(payloads)
    events: list[Event] = []
    valid: list[int] = []
    invalid: list[tuple[str, str | None, bytes, str]] = []
    for index, (payload, where) in enumerate(zip(payloads, sources, strict=True)):
        try:
            check_size(payload, max_bytes)
            events.append(decode_event(payload))
            valid.append(index)
        except PayloadTooLarge as exc:  # keep only the first `limit` bytes of a huge payload
            invalid.append(("event", where, as_bytes(payload)[: exc.limit], str(exc)))
        except InvalidEvent as exc:
            invalid.append(("event", where, as_bytes(payload), str(exc)))
    with bulk_unit_of_work(engine) as uow:
        ids = [task_ids[i] for i in valid] if task_ids is not None else None
        applied = apply_events(uow, events, policy, now, task_ids=ids)
        dead_ids = uow.add_dead_letters(invalid, now) if invalid else []
        uow.commit()
    for index, result in zip(valid, applied, strict=True):
        results[index] = result
    for dead_id, (kind, where, _payload, reason) in zip(dead_ids, invalid, strict=True):
        log_dead_letter(dead_id, kind, where, reason)
    return results


def apply_events(
    uow: BulkUnitOfWork,
    events: Sequence[Event],
    policy: PolicySettings,
    now: datetime,
    task_ids: Sequence[str] | None = None,
) -> list[Result]:
    """Apply valid events inside the caller's unit of work (the caller commits); one
    result per event, in order."""
    if not events:
        return []
    ordered = sorted(events, key=lambda e: e.occurred_at)  # stable: ties keep message order
    payloads = {e.event_id: event_json(e) for e in reversed(ordered)}  # the first copy's
    plans = {id(e): _plan(e) for e in ordered}
    wanted = set(payloads)
    while True:
        firsts = _first_copies(ordered, wanted)
        creates: dict[EntryKey, str] = {}
        touches: set[EntryKey] = set()
        for event in firsts:
            outcome, keys, create = plans[id(event)]
            if create:
                creates.setdefault(keys[0], event.recipient)  # displayed as first given
            else:
                touches.update(keys)
        claims = sorted((i, payloads[i]) for i in wanted)
        claimed = uow.claim_and_lock(claims, creates, touches, now)
        if claimed.event_ids == wanted:
            break
        uow.restart()  # some were duplicates: redo for the new ones only (see module doc)
        wanted = claimed.event_ids

    deliveries: dict[DeliveryKey, tuple[datetime, datetime]] = {}
    # Entries created by this batch exist, for a delivery or an opt-in, only from the
    # first event that created them on: exactly what one-by-one application would see.
    rows = claimed.rows
    exists = set(rows) - claimed.created
    message = dict(zip(map(id, events), task_ids, strict=True)) if task_ids else {}
    before = {key: _state(row) for key, row in rows.items()}
    for event in firsts:
        outcome, keys, create = plans[id(event)]
        if outcome.category is Category.DELIVERED:
            _count_delivery(deliveries, keys[0], event)
        if create:
            exists.add(keys[0])
        with about_message(message.get(id(event))):
            for key in keys:
                if key in exists:
                    apply_outcome(uow, rows[key], outcome, event, policy, now)
    changed = [row for key, row in rows.items() if _state(row) != before[key]]
    uow.write_back(changed, deliveries)
    applied = {id(e) for e in firsts}
    return [Result.APPLIED if id(e) in applied else Result.DUPLICATE for e in events]


def _plan(event: Event) -> Plan:
    outcome = admit(event, classify(event))
    if outcome.category is Category.IGNORED:
        # Claimed, so a redelivery is a duplicate; nothing to suppress, no entry made.
        return outcome, [], False
    keys, create = entry_keys(event, outcome)
    return outcome, keys, create


def _first_copies(ordered: Sequence[Event], wanted: set[str]) -> list[Event]:
    """The events to apply: the first copy of each wanted id (a second copy inside the
    batch is a duplicate), in order."""
    seen: set[str] = set()
    firsts = []
    for event in ordered:
        if event.event_id in wanted and event.event_id not in seen:
            seen.add(event.event_id)
            firsts.append(event)
    return firsts


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
