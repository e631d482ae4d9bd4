"""Bounces per fine reason (domain/rules/reasons.py REASONS), counted for `stats` and
GET /v1/stats.

The writer stores the classifier's fine reason (`Outcome.detail`) on the history row of
each bounce it applies (`transitions.detail`; NULL for other feedback, operator changes and
rows written before migration 0009). The count is one per history row: a bounce that
changed several entries (an organization's and a list's) counts on each. Live and over
every organization, like the recorded-only counts (global entries have no organization).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, func, select

from bounce_worker.domain.rules.reasons import REASONS
from bounce_worker.store.models import TransitionRow

RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class ReasonCount:
    detail: str  # a key of REASONS
    category: str  # its coarse category (hard_bounce, mailbox_full, soft_bounce, policy)
    total: int
    last_24h: int

    def to_dict(self) -> dict[str, int | str]:
        return {"category": self.category, "total": self.total, "last_24h": self.last_24h}


def by_reason(engine: Engine, now: datetime) -> list[ReasonCount]:
    """The fine reasons that occur, most frequent first (then by name): history rows in
    total and those recorded in the 24 hours before `now`."""
    t = TransitionRow
    recent = func.sum(case((t.recorded_at >= now - RECENT, 1), else_=0))
    stmt = select(t.detail, func.count(), recent).where(t.detail.is_not(None)).group_by(t.detail)
    with engine.connect() as conn:
        found = [(str(d), int(n), int(r or 0)) for d, n, r in conn.execute(stmt)]
    found.sort(key=lambda f: (-f[1], f[0]))
    return [ReasonCount(d, REASONS[d][0] if d in REASONS else "unknown", n, r) for d, n, r in found]


def as_json(counts: list[ReasonCount]) -> dict[str, dict[str, int | str]]:
    return {c.detail: c.to_dict() for c in counts}
