"""The state the events decide, comparable across runs and databases.

For checking one run against a reference run of the same events (the batch tests, the
fault tests, bench/throughput.py): row ids are left out (they differ between runs; the
order they give is kept), and so are the worker's own clock columns (recorded_at,
processed_at; updated_at unless `clock`). Each table is a sorted list of tuples, so a row
applied twice shows as two rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from bounce_worker.store.models import (
    DeadLetterRow,
    DeliveryRow,
    EntryRow,
    ProcessedEventRow,
    TransitionRow,
)
from bounce_worker.store.uow import UnitOfWork

Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(engine: Engine, *, clock: bool = False) -> Snapshot:
    """entries, transitions (per entry, in the order written), processed event ids with
    their stored payloads, deliveries and dead letters."""
    with UnitOfWork(engine) as uow:
        s = uow.session
        entries = list(s.scalars(select(EntryRow)))
        key = {r.id: (r.channel, r.address, r.scope, r.organization, r.list) for r in entries}
        history = sorted(
            (
                key[t.entry_id],
                t.id,
                (
                    t.from_state,
                    t.to_state,
                    t.reason,
                    t.event_id,
                    t.diagnostic,
                    t.occurred_at,
                    t.detail,
                ),
            )
            for t in s.scalars(select(TransitionRow))
        )
        return {
            "entries": sorted(
                (
                    key[r.id],
                    r.display_address,
                    r.state,
                    r.reason,
                    r.blocked_until,
                    r.temp_block_count,
                    r.temp_block_last_end,
                    r.soft_bounce_count,
                    *((r.updated_at,) if clock else ()),
                )
                for r in entries
            ),
            "transitions": [(entry, *fields) for entry, _id, fields in history],
            "processed": sorted(
                (p.event_id, p.payload) for p in s.scalars(select(ProcessedEventRow))
            ),
            "deliveries": sorted(
                (d.channel, d.address, d.organization, d.first_delivered_at, d.last_delivered_at)
                for d in s.scalars(select(DeliveryRow))
            ),
            "dead": sorted((d.payload, d.reason) for d in s.scalars(select(DeadLetterRow))),
        }
