"""Per-organization policy (issue 15 item 4): an account's own soft-bounce limit and
temporary-block ladder, over the environment's defaults (BOUNCE_WORKER_SOFT_BOUNCE_LIMIT,
BOUNCE_WORKER_LADDER_DAYS).

The seeds make "X consecutive soft bounces" the account's setting; the ladder is kept per
organization too, and applies to the temporary blocks its own sends' bounces cause (the
global entry stays the mailbox's: its escalation count is shared, each step's length is the
bouncing sender's). Set with `bounce-worker policy set ORG ...` or PUT /v1/policy.

The writer applies it with `resolve(policy, event.organization)`: a lookup in this process's
copy of the table, refreshed at most every REFRESH_SECONDS before a task runs (a Celery
task_prerun signal) and when a CLI command opens the database - never inside a write
transaction, so SQLite's single writer never waits for itself. A change reaches every
worker within REFRESH_SECONDS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select

from bounce_worker.domain.policy import PolicySettings, ladder_problem
from bounce_worker.store.models import OrganizationPolicyRow
from bounce_worker.store.uow import UnitOfWork

REFRESH_SECONDS = 30.0


class BadPolicy(ValueError):
    """A policy that cannot be set; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Override:
    organization: str
    soft_bounce_limit: int | None
    ladder_days: tuple[int, ...] | None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "organization": self.organization,
            "soft_bounce_limit": self.soft_bounce_limit,
            "ladder_days": list(self.ladder_days) if self.ladder_days else None,
        }


def parse_ladder(raw: str | list[int] | tuple[int, ...] | None) -> tuple[int, ...] | None:
    """`--ladder 1,2,3,90` or PUT /v1/policy's list; None: not given (the default). A blank
    `--ladder ""` is refused: it read as not given, and kept the old ladder without a word."""
    if raw is None:
        return None
    if isinstance(raw, str) and not raw.strip():
        raise BadPolicy("the ladder is empty: give days like 1,2,3,90, or leave it out")
    try:
        days = tuple(int(p) for p in (raw.split(",") if isinstance(raw, str) else raw))
    except (TypeError, ValueError):
        raise BadPolicy(f"a ladder is whole days like 1,2,3,90; got {raw!r}") from None
    problem = ladder_problem(days)
    if problem:
        raise BadPolicy(problem)
    return days


def set_policy(
    engine: Engine,
    organization: str,
    *,
    soft_bounce_limit: int | None,
    ladder_days: tuple[int, ...] | None,
    now: datetime,
    actor: str | None,
) -> Override:
    """Set (or with both None, clear) an organization's overrides."""
    organization = organization.strip()
    if not organization:
        raise BadPolicy("a policy belongs to an organization")
    if soft_bounce_limit is not None and not 1 <= soft_bounce_limit <= 1000:
        raise BadPolicy(f"the soft-bounce limit is 1 to 1000, got {soft_bounce_limit}")
    with UnitOfWork(engine) as uow:
        row = uow.session.get(OrganizationPolicyRow, organization, with_for_update=True)
        if soft_bounce_limit is None and ladder_days is None:
            if row is not None:
                uow.session.execute(
                    delete(OrganizationPolicyRow).where(
                        OrganizationPolicyRow.organization == organization
                    )
                )
        else:
            if row is None:
                row = OrganizationPolicyRow(organization=organization)
                uow.session.add(row)
            row.soft_bounce_limit = soft_bounce_limit
            row.ladder_days = ",".join(map(str, ladder_days)) if ladder_days else None
            row.updated_at = now
            row.updated_by = actor
        uow.commit()
    _CACHE.loaded_at = float("-inf")  # this process sees its own change at once
    return Override(organization, soft_bounce_limit, ladder_days, now, actor)


def listing(engine: Engine, organization: str | None = None) -> list[Override]:
    stmt = select(OrganizationPolicyRow).order_by(OrganizationPolicyRow.organization)
    if organization is not None:
        stmt = stmt.where(OrganizationPolicyRow.organization == organization)
    with UnitOfWork(engine) as uow:
        return [_override(r) for r in uow.session.scalars(stmt)]


def _override(r: OrganizationPolicyRow) -> Override:
    ladder = tuple(int(d) for d in r.ladder_days.split(",")) if r.ladder_days else None
    return Override(r.organization, r.soft_bounce_limit, ladder, r.updated_at, r.updated_by)


class _Cache:
    def __init__(self) -> None:
        self.loaded_at = float("-inf")
        self.by_org: dict[str, Override] = {}


_CACHE = _Cache()


def refresh(engine: Engine, max_age: float = REFRESH_SECONDS) -> None:
    """Re-read the overrides if this process's copy is older than `max_age` seconds. Call
    it outside any write transaction. A read that fails keeps the old copy (the writer
    goes on with what it knew; the next task tries again)."""
    if time.monotonic() - _CACHE.loaded_at < max_age:
        return
    try:
        found = {o.organization: o for o in listing(engine)}
    except Exception:
        _CACHE.loaded_at = time.monotonic() - max_age + 1  # retry in a second
        return
    _CACHE.by_org, _CACHE.loaded_at = found, time.monotonic()


def resolve(base: PolicySettings, organization: str | None) -> PolicySettings:
    """The policy for an event of `organization`: the base with the organization's
    overrides (pure lookup in this process's copy; see `refresh`)."""
    found = _CACHE.by_org.get(organization) if organization else None
    if found is None:
        return base
    return replace(
        base,
        soft_bounce_limit=found.soft_bounce_limit or base.soft_bounce_limit,
        ladder_days=found.ladder_days or base.ladder_days,
    )
