"""Feedback recorded without changing state (SPEC 7), counted for `stats` and GET /v1/stats.

Where trust.admit records only, the writer puts a history row (a transition that keeps the
state) with the reason `unverified` (nothing verified where it came from: a bounce mail
without a valid VERP token, an ARF report from an untrusted mailbox) or `unattributed`
(verified, but a complaint, unsubscribe or soft bounce that names no organization). Those
rows are the count: one per event applied (a redelivered duplicate is claimed once, so it is
not counted twice), read through a partial index that holds only them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, func, select

from bounce_worker.domain.trust import UNATTRIBUTED, UNVERIFIED
from bounce_worker.store.models import RECORDED_ONLY, TransitionRow

REASONS = (UNVERIFIED.reason, UNATTRIBUTED.reason)  # the index's predicate names these
RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class Recorded:
    reason: str  # unverified or unattributed
    total: int
    last_24h: int

    def to_dict(self) -> dict[str, int]:
        return {"total": self.total, "last_24h": self.last_24h}


def recorded_only(engine: Engine, now: datetime) -> list[Recorded]:
    """Per reason (both always listed, in REASONS order): history rows in total, and those
    recorded in the 24 hours before `now`."""
    t = TransitionRow
    recent = func.sum(case((t.recorded_at >= now - RECENT, 1), else_=0))
    stmt = select(t.reason, func.count(), recent).where(RECORDED_ONLY).group_by(t.reason)
    with engine.connect() as conn:
        found = {reason: (int(n), int(r or 0)) for reason, n, r in conn.execute(stmt)}
    return [Recorded(reason, *found.get(reason, (0, 0))) for reason in REASONS]


def as_json(counts: list[Recorded]) -> dict[str, dict[str, int]]:
    return {c.reason: c.to_dict() for c in counts}
