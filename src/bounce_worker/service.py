"""The service layer: the only writer of entries and transitions.

Each use case is one unit of work: claim the event id, lock the entry, let the pure policy
decide, write the entry and its transition, commit. Bad input is dead-lettered in a
transaction of its own, so it is stored even though the event's own work was rolled back.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine

from bounce_worker.domain.addresses import address_key
from bounce_worker.domain.classify import Category, Outcome, classify
from bounce_worker.domain.events import Event, InvalidEvent
from bounce_worker.domain.policy import (
    Entry,
    PolicySettings,
    Scope,
    State,
    decide,
    target_scope,
)
from bounce_worker.domain.trust import admit
from bounce_worker.observability import metrics
from bounce_worker.store.bulk import BulkUnitOfWork, EntryRecord
from bounce_worker.store.models import EntryRow
from bounce_worker.store.uow import EntryKey, UnitOfWork

log = logging.getLogger("bounce_worker.transitions")
dead_log = logging.getLogger("bounce_worker.dead_letters")


class Result(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    IGNORED = "ignored"  # recognised, but not feedback (an auto-reply)


# Set while a dead letter is replayed: a replay that fails again updates that row's reason
# instead of adding a second dead letter for the same payload.
_replaying: ContextVar[int | None] = ContextVar("bounce_worker_replaying", default=None)


class PayloadTooLarge(InvalidEvent):
    """A payload over the size limit; dead-lettered with its first `limit` bytes only."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"payload is {size} bytes, over the limit of {limit} "
            f"(BOUNCE_WORKER_MAX_MESSAGE_BYTES); only the first {limit} bytes are kept"
        )
        self.limit = limit


def check_size(payload: str | bytes | Mapping[str, Any], limit: int | None) -> None:
    """Raise PayloadTooLarge when the payload, as bytes, exceeds `limit` (None: no limit)."""
    if limit is None:
        return
    size = len(payload) if isinstance(payload, bytes) else len(as_bytes(payload))
    if size > limit:
        raise PayloadTooLarge(size, limit)


def process_payload(
    engine: Engine,
    payload: str | bytes | Mapping[str, Any],
    *,
    source: str | None,
    policy: PolicySettings,
    now: datetime,
    max_bytes: int | None = None,
) -> Result:
    """Decode and validate one normalized event, then apply it or dead-letter it."""
    try:
        check_size(payload, max_bytes)
        event = decode_event(payload)
    except PayloadTooLarge as exc:
        dead_letter(engine, "event", source, as_bytes(payload)[: exc.limit], str(exc), now)
        return Result.DEAD_LETTERED
    except InvalidEvent as exc:
        dead_letter(engine, "event", source, payload, str(exc), now)
        return Result.DEAD_LETTERED
    with UnitOfWork(engine) as uow:
        result = apply_event(uow, event, policy, now)
        uow.commit()
    return result


def apply_events(
    engine: Engine, events: Iterable[Event], *, policy: PolicySettings, now: datetime
) -> Counter[Result]:
    """Apply already-validated events (from a parser), one unit of work each."""
    results: Counter[Result] = Counter()
    for event in events:
        with UnitOfWork(engine) as uow:
            results[apply_event(uow, event, policy, now)] += 1
            uow.commit()
    return results


def decode_event(payload: str | bytes | Mapping[str, Any]) -> Event:
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidEvent(f"not valid JSON: {exc}") from None
    return Event.from_dict(payload)


def dead_letter(
    engine: Engine,
    kind: str,
    source: str | None,
    payload: str | bytes | Mapping[str, Any],
    reason: str,
    now: datetime,
) -> int:
    raw = as_bytes(payload)
    replay_of = _replaying.get()
    with UnitOfWork(engine) as uow:
        if replay_of is None:
            dead_id = uow.add_dead_letter(kind, source, raw, reason, now)
        else:
            dead_id = replay_of
            uow.set_dead_letter_reason(dead_id, reason)
        uow.commit()
    log_dead_letter(dead_id, kind, source, reason)
    return dead_id


def log_dead_letter(dead_id: int, kind: str, source: str | None, reason: str) -> None:
    dead_log.warning(
        "dead letter %s: %s",
        dead_id,
        reason,
        extra={"dead_letter_id": dead_id, "kind": kind, "source": source, "reason": reason},
    )
    metrics.dead_letter(kind)


@contextmanager
def replaying(dead_letter_id: int) -> Iterator[None]:
    """Within the block, dead_letter() re-files its reason on `dead_letter_id`."""
    token = _replaying.set(dead_letter_id)
    try:
        yield
    finally:
        _replaying.reset(token)


def as_bytes(payload: str | bytes | Mapping[str, Any]) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        try:  # surrogateescape gives back the bytes a reader decoded that way (cli/events.py)
            return payload.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # other lone surrogates: keep them visible, escaped
            return payload.encode("utf-8", "backslashreplace")
    return json.dumps(payload, default=str).encode()


def event_json(event: Event) -> str:
    """The normalized event as stored with its claim (for replay after a fix)."""
    return json.dumps(event.to_dict())


def apply_event(uow: UnitOfWork, event: Event, policy: PolicySettings, now: datetime) -> Result:
    """Apply one valid event inside the caller's unit of work (the caller commits)."""
    if not uow.claim_event(event.event_id, now, event_json(event)):
        return Result.DUPLICATE
    outcome = admit(event, classify(event))
    if outcome.category is Category.IGNORED:
        return Result.APPLIED  # claimed, so a redelivery is a duplicate; nothing to suppress
    for row in _rows_for(event, outcome, uow, now):
        apply_outcome(uow, row, outcome, event, policy, now)
    return Result.APPLIED


def _rows_for(event: Event, outcome: Outcome, uow: UnitOfWork, now: datetime) -> list[EntryRow]:
    """The locked entries the event acts on: one round trip per entry in the common case."""
    keys, creates = entry_keys(event, outcome)
    if outcome.category is Category.DELIVERED:
        uow.record_delivery(
            keys[0].channel, keys[0].address, event.organization or "", event.occurred_at
        )
    if creates:
        return [uow.lock_entry(keys[0], event.recipient, now)]
    # A delivery or an opt-in acts on entries that exist; it never creates one.
    return [row for key in keys if (row := uow.find_entry(key, for_update=True)) is not None]


def entry_keys(event: Event, outcome: Outcome) -> tuple[list[EntryKey], bool]:
    """The entry keys an event acts on, and whether it creates them (pure: no queries).

    Suppressing outcomes create their one entry; a delivery or an opt-in only touches the
    keys listed that already exist. Shared by the single and the batched path.
    """
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


def apply_outcome(
    uow: UnitOfWork | BulkUnitOfWork,
    row: EntryRow | EntryRecord,
    outcome: Outcome,
    event: Event,
    policy: PolicySettings,
    now: datetime,
) -> None:
    decision = decide(to_entry(row), outcome, event.occurred_at, policy)
    if decision is None:
        return
    from_state = row.state
    write_entry(row, decision.entry, now)
    if decision.record:
        record_transition(
            uow,
            row,
            from_state,
            str(decision.to_state),
            decision.reason,
            occurred_at=event.occurred_at,
            now=now,
            event_id=event.event_id,
            diagnostic=event.diagnostic,
        )
        metrics.transition(row.channel, row.scope, str(decision.to_state), decision.reason)


def record_transition(
    uow: UnitOfWork | BulkUnitOfWork,
    row: EntryRow | EntryRecord,
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
) -> None:
    """One history row (and its log line): the event's, or an operator's with their note."""
    # Keywords, not a TransitionRow: the batched path (store/bulk.py) collects plain rows.
    uow.record_transition(
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


def to_entry(row: EntryRow | EntryRecord) -> Entry:
    return Entry(
        state=State(row.state),
        reason=row.reason,
        blocked_until=row.blocked_until,
        temp_block_count=row.temp_block_count,
        temp_block_last_end=row.temp_block_last_end,
        soft_bounce_count=row.soft_bounce_count,
    )


def write_entry(row: EntryRow | EntryRecord, entry: Entry, now: datetime) -> None:
    row.state = str(entry.state)
    row.reason = entry.reason
    row.blocked_until = entry.blocked_until
    row.temp_block_count = entry.temp_block_count
    row.temp_block_last_end = entry.temp_block_last_end
    row.soft_bounce_count = entry.soft_bounce_count
    row.updated_at = now
