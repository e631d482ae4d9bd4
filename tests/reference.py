"""The one-event-at-a-time reference the writer is compared against (tests and bench only).

The simplest correct way to apply an event: one ORM unit of work per event, claim its id,
lock (or create) each entry it acts on, let the policy decide, write, commit; a payload
that does not decode or validate is dead-lettered in a transaction of its own. The real
writer (bounce_worker/apply.py) must leave the same database when given the same events
in the order of their occurred_at (tests/integration/test_batch.py, bench/throughput.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from bounce_worker.apply import Result, apply_outcome, entry_keys, event_json
from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import Event, InvalidEvent
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.domain.trust import admit
from bounce_worker.service import PayloadTooLarge, as_bytes, check_size, decode_event
from bounce_worker.store.models import DeliveryRow, EntryRow, ProcessedEventRow
from bounce_worker.store.uow import UnitOfWork


def process_payload(
    engine: Engine,
    payload: Any,
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
        _dead(engine, source, as_bytes(payload)[: exc.limit], str(exc), now)
        return Result.DEAD_LETTERED
    except InvalidEvent as exc:
        _dead(engine, source, as_bytes(payload), str(exc), now)
        return Result.DEAD_LETTERED
    with UnitOfWork(engine) as uow:
        result = apply_event(uow, event, policy, now)
        uow.commit()
    return result


def _dead(engine: Engine, source: str | None, raw: bytes, reason: str, now: datetime) -> None:
    with UnitOfWork(engine) as uow:
        uow.add_dead_letter("event", source, raw, reason, now)
        uow.commit()


def apply_event(uow: UnitOfWork, event: Event, policy: PolicySettings, now: datetime) -> Result:
    """Apply one valid event inside the caller's unit of work (the caller commits)."""
    insert = postgresql.insert if uow.engine.dialect.name == "postgresql" else sqlite.insert
    claim = (
        insert(ProcessedEventRow)
        .values(event_id=event.event_id, processed_at=now, payload=event_json(event))
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ProcessedEventRow.event_id)
    )
    if uow.session.execute(claim).first() is None:
        return Result.DUPLICATE
    outcome = admit(event, classify(event))
    if outcome.category is Category.IGNORED:
        return Result.APPLIED  # claimed, so a redelivery is a duplicate
    keys, creates = entry_keys(event, outcome)
    if outcome.category is Category.DELIVERED:
        at = event.occurred_at
        stmt = insert(DeliveryRow).values(
            channel=keys[0].channel, address=keys[0].address,
            organization=event.organization or "", first_delivered_at=at, last_delivered_at=at,
        )  # fmt: skip
        uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["channel", "address", "organization"],
                set_={"last_delivered_at": stmt.excluded.last_delivered_at},
                where=DeliveryRow.last_delivered_at < stmt.excluded.last_delivered_at,
            )
        )
    rows: list[EntryRow]
    if creates:
        rows = [uow.lock_entry(keys[0], event.recipient, now)]
    else:
        found = (uow.find_entry(key, for_update=True) for key in keys)
        rows = [row for row in found if row is not None]
    for row in rows:
        apply_outcome(uow, row, outcome, event, policy, now)
    return Result.APPLIED
