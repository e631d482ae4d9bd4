"""The one event writer: every event, from every entry point, is applied here.

The worker's tasks, `bounce-worker process`, raw-mail, webhook and SMS ingestion and
dead-letter replay all call `apply_events` (through service.py or ingest.py): one
transaction for the events given, in the order of their `occurred_at` (ties keep the
order given), with the dead letters found on the way committed in the same transaction.
A mail's events (a DSN naming many recipients) are therefore applied together or not at
all.

How (two round trips on PostgreSQL, see store/writer_pg.py): the event ids are claimed
and the entries they act on are created or locked, together, in one lock order for every
writer (store/keys.py); then the pure policy (`policy.decide`) runs per event, in memory,
on those entries; then every changed entry, transition and delivery fact goes with the
COMMIT. Claiming and locking together means asking before knowing which events are new:
the store creates an entry only for an event whose id it claimed, so a duplicate (a
redelivery) never creates one; it may lock a key a duplicate names, which changes nothing.

The result is what applying the same events one by one, each in its own transaction,
would give; tests/reference.py is that one-by-one reference, kept in the tests only, and
tests/integration/test_batch.py compares the two on random feeds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine

from bounce_worker import org_policy
from bounce_worker.domain.addresses import address_key
from bounce_worker.domain.classify import Category, Outcome, classify
from bounce_worker.domain.events import Event
from bounce_worker.domain.policy import PolicySettings, Scope, decide, target_scope
from bounce_worker.domain.trust import admit
from bounce_worker.observability import metrics
from bounce_worker.observability.logs import about_message
from bounce_worker.store.keys import EntryKey
from bounce_worker.store.writer import (
    DeadLetter,
    EntryRecord,
    EventStore,
    Wanted,
    dead_letter_row,
    open_store,
    state_of,
    to_entry,
    write_entry,
)

log = logging.getLogger("bounce_worker.transitions")
dead_log = logging.getLogger("bounce_worker.dead_letters")

DeliveryKey = tuple[str, str, str]
# What an event acts on: (outcome, entry keys, whether it creates them).
Plan = tuple[Outcome, list[EntryKey], bool]


class Result(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    IGNORED = "ignored"  # recognised, but not feedback (an auto-reply)


# Set while a dead letter is replayed: a replay that fails again updates that row's reason
# instead of adding a second dead letter for the same payload.
_replaying: ContextVar[int | None] = ContextVar("bounce_worker_replaying", default=None)


@contextmanager
def replaying(dead_letter_id: int) -> Iterator[None]:
    """Within the block, a dead letter re-files its reason on `dead_letter_id`."""
    token = _replaying.set(dead_letter_id)
    try:
        yield
    finally:
        _replaying.reset(token)


def apply_events(
    engine: Engine,
    events: Sequence[Event],
    *,
    policy: PolicySettings,
    now: datetime,
    dead_letters: Sequence[DeadLetter] = (),
    task_ids: Sequence[str] | None = None,
) -> list[Result]:
    """Apply valid events and store dead letters, in one transaction; one result per
    event, in the order given. `task_ids`: each event's own message, for the log lines."""
    return write(engine, events, dead_letters, policy=policy, now=now, task_ids=task_ids)[0]


def write(
    engine: Engine,
    events: Sequence[Event] | Planned,
    dead_letters: Sequence[DeadLetter],
    *,
    policy: PolicySettings | None,
    now: datetime,
    task_ids: Sequence[str] | None = None,
    durable: bool = True,
) -> tuple[list[Result], list[int]]:
    """apply_events, with the ids of the dead letters stored (policy: None only when
    there are no events; `durable`: store.writer.open_store). `events` may come planned
    already (`plan`)."""
    planned = events if isinstance(events, Planned) else plan(events)
    replay_of = _replaying.get()
    with open_store(engine, durable=durable) as store:
        results = _apply(store, planned, policy, now, task_ids) if planned.events else []
        dead_ids = [_file(store, letter, now, replay_of) for letter in dead_letters]
        store.commit()
    for dead_id, letter in zip(dead_ids, dead_letters, strict=True):
        log_dead_letter(dead_id, letter.kind, letter.source, letter.reason)
    return results, dead_ids


def _file(store: EventStore, letter: DeadLetter, now: datetime, replay_of: int | None) -> int:
    """Store a dead letter, or during a replay re-file the reason on the one replayed;
    its id."""
    row = dead_letter_row(letter, now)
    if replay_of is None:
        return store.add_dead_letter(row)
    store.refile(replay_of, row["reason"])
    return replay_of


def log_dead_letter(dead_id: int, kind: str, source: str | None, reason: str) -> None:
    dead_log.warning(
        "dead letter %s: %s",
        dead_id,
        reason,
        extra={"dead_letter_id": dead_id, "kind": kind, "source": source, "reason": reason},
    )
    metrics.dead_letter(kind)


@dataclass(frozen=True, slots=True)
class Planned:
    """A batch's work that needs no database: each event's classification and entry
    keys, the first copy of each id in the order applied, and what to ask the store for
    (store.writer.Wanted). Pure, so `process` plans the next batch in its own thread
    while the writer's thread waits on the database for this one."""

    events: Sequence[Event]  # as given: the results follow this order
    plans: dict[int, Plan]  # by id() of each event
    firsts: list[Event]  # the first copy of each id, in the order applied
    claims: list[tuple[str, str]]  # Wanted's
    creates: list[tuple[str, EntryKey, str]]  # Wanted's
    touches: set[EntryKey]  # Wanted's


def plan(events: Sequence[Event]) -> Planned:
    """What `write` works out before it opens the store (no database, no shared state)."""
    ordered = sorted(events, key=lambda e: e.occurred_at)  # stable: ties keep given order
    payloads = {e.event_id: event_json(e) for e in reversed(ordered)}  # the first copy's
    plans = {id(e): _plan(e) for e in ordered}
    firsts = _first_copies(ordered)
    creates: list[tuple[str, EntryKey, str]] = []
    touches: set[EntryKey] = set()
    for event in firsts:
        _, keys, create = plans[id(event)]
        if create:
            creates.append((event.event_id, keys[0], event.recipient))
        else:
            touches.update(keys)
    return Planned(events, plans, firsts, sorted(payloads.items()), creates, touches)


def _apply(
    store: EventStore,
    planned: Planned,
    policy: PolicySettings | None,
    now: datetime,
    task_ids: Sequence[str] | None,
) -> list[Result]:
    assert policy is not None, "events need a policy"
    events, plans = planned.events, planned.plans
    wanted = Wanted(planned.claims, planned.creates, planned.touches, now)
    claimed = store.claim_and_lock(wanted)
    # The first copies whose ids were new; the rest are duplicates.
    firsts = [e for e in planned.firsts if e.event_id in claimed.event_ids]

    deliveries: dict[DeliveryKey, tuple[datetime, datetime]] = {}
    # Entries created by this batch exist, for a delivery or an opt-in, only from the
    # first event that created them on: exactly what one-by-one application would see.
    rows = claimed.rows
    exists = set(rows) - claimed.created
    message = dict(zip(map(id, events), task_ids, strict=True)) if task_ids else {}
    before = {key: state_of(row) for key, row in rows.items()}
    for event in firsts:
        outcome, keys, create = plans[id(event)]
        if outcome.category is Category.DELIVERED:
            _count_delivery(deliveries, keys[0], event)
        if create:
            exists.add(keys[0])
        with about_message(message.get(id(event))):
            for key in keys:
                if key in exists:
                    apply_outcome(store, rows[key], outcome, event, policy, now)
    changed = [row for key, row in rows.items() if state_of(row) != before[key]]
    store.write_back(changed, deliveries)
    applied = {id(e) for e in firsts}
    return [Result.APPLIED if id(e) in applied else Result.DUPLICATE for e in events]


def event_json(event: Event) -> str:
    """The normalized event as stored with its claim (for replay after a fix)."""
    return json.dumps(event.to_dict())


def _plan(event: Event) -> Plan:
    outcome = admit(event, classify(event))
    if outcome.category is Category.IGNORED:
        # Claimed, so a redelivery is a duplicate; nothing to suppress, no entry made.
        return outcome, [], False
    keys, create = entry_keys(event, outcome)
    return outcome, keys, create


def entry_keys(event: Event, outcome: Outcome) -> tuple[list[EntryKey], bool]:
    """The entry keys an event acts on, and whether it creates them (pure: no queries).

    Suppressing outcomes create their one entry; a delivery or an opt-in only touches the
    keys listed that already exist: it never creates an entry."""
    address = address_key(event.recipient)
    channel = str(event.channel)
    org = event.organization or ""
    global_key = EntryKey(channel, address, Scope.GLOBAL)
    if outcome.category is Category.DELIVERED:
        return [global_key] + (
            [EntryKey(channel, address, Scope.ORGANIZATION, org)] if org else []
        ), False
    if outcome.category is Category.OPT_IN:
        keys = [EntryKey(channel, address, Scope.ORGANIZATION, org)] if org else [global_key]
        if org and event.list:
            keys.append(EntryKey(channel, address, Scope.LIST, org, event.list))
        return keys, False
    scope = target_scope(outcome, event.organization, event.list)
    if scope is Scope.GLOBAL:
        return [global_key], True
    if scope is Scope.LIST:
        return [EntryKey(channel, address, Scope.LIST, org, event.list or "")], True
    return [EntryKey(channel, address, Scope.ORGANIZATION, org)], True


def _first_copies(ordered: Sequence[Event]) -> list[Event]:
    """The first copy of each id, in order (a second copy inside the batch is a duplicate)."""
    seen: set[str] = set()
    firsts = []
    for event in ordered:
        if event.event_id not in seen:
            seen.add(event.event_id)
            firsts.append(event)
    return firsts


def _count_delivery(
    deliveries: dict[DeliveryKey, tuple[datetime, datetime]], key: EntryKey, event: Event
) -> None:
    """One upsert row per address and organization, as one-by-one upserts leave it:
    first = the first delivery applied, last = the latest occurred_at."""
    dkey = (key.channel, key.address, event.organization or "")
    at = event.occurred_at
    seen = deliveries.get(dkey)
    deliveries[dkey] = (at, at) if seen is None else (seen[0], max(seen[1], at))


def apply_outcome(
    sink: Any, row: Any, outcome: Outcome, event: Event, policy: PolicySettings, now: datetime
) -> None:
    """The policy's decision for one event on one entry (`row`: an EntryRecord, or an ORM
    row in the tests' reference), with its transition recorded into `sink`."""
    # The event's organization may have its own soft-bounce limit and ladder (org_policy.py).
    policy = org_policy.resolve(policy, event.organization)
    decision = decide(to_entry(row), outcome, event.occurred_at, policy)
    if decision is None:
        return
    from_state = row.state
    write_entry(row, decision.entry, now)
    if decision.record:
        record_transition(
            sink,
            row,
            from_state,
            str(decision.to_state),
            decision.reason,
            occurred_at=event.occurred_at,
            now=now,
            event_id=event.event_id,
            diagnostic=event.diagnostic,
            detail=outcome.detail or None,
        )
        metrics.transition(row.channel, row.scope, str(decision.to_state), decision.reason)


def record_transition(
    sink: Any,
    row: EntryRecord | Any,
    from_state: str,
    to_state: str,
    reason: str,
    *,
    occurred_at: datetime,
    now: datetime,
    event_id: str | None = None,
    diagnostic: str | None = None,
    actor: str | None = None,
    note: str | None = None,
    detail: str | None = None,
) -> None:
    """One history row (and its log line): an event's, or an operator's with their note.
    `sink.record_transition(**columns)`: the event store, or an operator's UnitOfWork."""
    sink.record_transition(
        entry_id=row.id,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        event_id=event_id,
        actor=actor,
        note=note,
        diagnostic=diagnostic,
        occurred_at=occurred_at,
        recorded_at=now,
        detail=detail,
    )
    log.info(
        "%s %s %s -> %s (%s)",
        row.channel,
        row.display_address,
        from_state,
        to_state,
        reason,
        extra={
            "address": row.display_address,
            "channel": row.channel,
            "scope": row.scope,
            "organization": row.organization or None,
            "from_state": from_state,
            "to_state": to_state,
            "reason": reason,
            "event_id": event_id,
            "actor": actor,
        },
    )
