"""Suppression policy (SPEC sections 1-3): states, scopes, the escalation ladder, resets.

Pure: `decide` takes the current entry, an outcome and the event time, and returns the new
entry and the transition to write. Every (state, outcome) pair is handled on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from bounce_worker.domain.classify import Category, Outcome


class State(StrEnum):
    ACTIVE = "active"
    TEMPORARILY_BLOCKED = "temporarily_blocked"
    BLACKLISTED = "blacklisted"
    BLOCKED = "blocked"


STRENGTH: dict[State, int] = {
    State.ACTIVE: 0,
    State.TEMPORARILY_BLOCKED: 1,
    State.BLACKLISTED: 2,
    State.BLOCKED: 3,
}


class Scope(StrEnum):
    GLOBAL = "global"
    ORGANIZATION = "organization"
    LIST = "list"


MAX_LADDER_STEPS = 20
MAX_LADDER_DAYS = 3650


def ladder_problem(days: tuple[int, ...]) -> str | None:
    """Why `days` cannot be a temporary-block ladder, in one line, or None. The one rule of
    BOUNCE_WORKER_LADDER_DAYS, `policy set --ladder` and PUT /v1/policy: SPEC 3's ladder
    escalates (1, 2, 3, then 90 days), so each step is longer than the one before; `3,1`
    was taken, and gave a second outage a shorter block than the first."""
    shown = ",".join(map(str, days))
    if not days or len(days) > MAX_LADDER_STEPS or any(not 1 <= d <= MAX_LADDER_DAYS for d in days):
        return (
            f"a ladder is 1 to {MAX_LADDER_STEPS} steps of 1 to {MAX_LADDER_DAYS} days; "
            f"got {shown!r}"
        )
    if any(later <= earlier for earlier, later in pairwise(days)):
        return (
            f"a ladder climbs: each step longer than the one before (like 1,2,3,90); got {shown!r}"
        )
    return None


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """The policy's numbers, in one typed place (read from the environment by config.py)."""

    ladder_days: tuple[int, ...] = (1, 2, 3, 90)
    soft_bounce_limit: int = 5
    quiet_period: timedelta = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Entry:
    """The state of one (channel, address, scope) key, with the counters the rules need."""

    state: State = State.ACTIVE
    reason: str | None = None
    blocked_until: datetime | None = None
    temp_block_count: int = 0  # escalation step reached (global entries)
    temp_block_last_end: datetime | None = None  # end of the latest temporary block
    soft_bounce_count: int = 0  # consecutive soft bounces since the last delivery


@dataclass(frozen=True, slots=True)
class Decision:
    entry: Entry
    to_state: State
    reason: str
    changed: bool = field(default=True)  # the state moved: a transition proper
    record: bool = field(default=True)  # write a history row even when the state stays


def stronger(a: State, b: State) -> State:
    return a if STRENGTH[a] >= STRENGTH[b] else b


def strongest(states: list[State]) -> State:
    best = State.ACTIVE
    for state in states:
        best = stronger(state, best)
    return best


# Mailbox facts, and what is recorded only (kept on the address's global entry).
_GLOBAL_CATEGORIES = (Category.HARD_BOUNCE, Category.MAILBOX_FULL, Category.POLICY)
_GLOBAL_CATEGORIES += (Category.RECORDED,)


def target_scope(outcome: Outcome, organization: str | None, list_id: str | None) -> Scope:
    """Mailbox properties are global; relationships with a sender are scoped (SPEC 2).

    Scoped feedback without an organization never gets here as such: trust.admit turns it
    into a recorded-only outcome (SPEC 7); an opt-in without one acts on the global entry.
    """
    if outcome.category in _GLOBAL_CATEGORIES:
        return Scope.GLOBAL
    if organization is None:
        return Scope.GLOBAL
    if outcome.category in (Category.UNSUBSCRIBE, Category.OPT_IN) and list_id is not None:
        return Scope.LIST
    return Scope.ORGANIZATION


def decide(
    entry: Entry, outcome: Outcome, at: datetime, settings: PolicySettings
) -> Decision | None:
    """The entry after `outcome` happened at `at`; None when there is nothing to record."""
    category = outcome.category
    if category is Category.HARD_BOUNCE or category is Category.COMPLAINT:
        return _raise_to(entry, State.BLOCKED, outcome.reason)
    if category is Category.UNSUBSCRIBE:
        return _raise_to(entry, State.BLACKLISTED, outcome.reason)
    if category is Category.MAILBOX_FULL:
        return _mailbox_error(entry, outcome.reason, at, settings)
    if category is Category.SOFT_BOUNCE:
        return _soft_bounce(entry, outcome.reason, settings)
    if category is Category.POLICY or category is Category.RECORDED:
        # The sender's problem, or feedback we cannot trust or attribute (SPEC 7): written
        # to history with its evidence, never suppresses the recipient.
        return Decision(entry, entry.state, outcome.reason, changed=False)
    if category is Category.OPT_IN:
        return _opt_in(entry)
    if category is Category.DELIVERED:
        return _delivered(entry)
    # IGNORED: feedback about nobody's mailbox; deliberately not recorded on the entry.
    return None


def _raise_to(entry: Entry, state: State, reason: str) -> Decision:
    if STRENGTH[entry.state] >= STRENGTH[state]:
        # Never weaken, never re-suppress: the event goes into history only.
        return Decision(entry, entry.state, reason, changed=False)
    new = replace(entry, state=state, reason=reason, blocked_until=None)
    return Decision(new, state, reason)


def _mailbox_error(entry: Entry, reason: str, at: datetime, settings: PolicySettings) -> Decision:
    if STRENGTH[entry.state] > STRENGTH[State.TEMPORARILY_BLOCKED]:
        return Decision(entry, entry.state, reason, changed=False)
    if (
        entry.state is State.TEMPORARILY_BLOCKED
        and entry.blocked_until
        and entry.blocked_until > at
    ):
        # Same outage: recorded, but the ladder climbs once per block, not per bounce.
        return Decision(entry, entry.state, reason, changed=False)
    count = effective_temp_block_count(entry, at, settings) + 1
    days = settings.ladder_days[min(count, len(settings.ladder_days)) - 1]
    until = at + timedelta(days=days)
    new = replace(
        entry,
        state=State.TEMPORARILY_BLOCKED,
        reason=reason,
        blocked_until=until,
        temp_block_count=count,
        temp_block_last_end=until,
    )
    return Decision(new, State.TEMPORARILY_BLOCKED, reason)


def effective_temp_block_count(entry: Entry, at: datetime, settings: PolicySettings) -> int:
    """The escalation step, forgotten after a quiet period counted from the last block's end."""
    last_end = entry.temp_block_last_end
    if last_end is not None and at - last_end >= settings.quiet_period:
        return 0
    return entry.temp_block_count


# The same rule in SQL, for housekeeping's reset (jobs/housekeeping.py): the counts it
# forgets, with :stale_before = now - quiet_period (a count of 0 needs no reset).
# tests/integration/test_rule_pairs.py runs both on the same rows.
STALE_COUNT_SQL = "temp_block_count > 0 AND temp_block_last_end <= :stale_before"


def _soft_bounce(entry: Entry, reason: str, settings: PolicySettings) -> Decision:
    count = entry.soft_bounce_count + 1
    counted = replace(entry, soft_bounce_count=count)
    if count >= settings.soft_bounce_limit and STRENGTH[entry.state] < STRENGTH[State.BLACKLISTED]:
        new = replace(
            counted, state=State.BLACKLISTED, reason="soft_bounce_limit", blocked_until=None
        )
        return Decision(new, State.BLACKLISTED, "soft_bounce_limit")
    return Decision(counted, entry.state, reason, changed=False)


def _opt_in(entry: Entry) -> Decision | None:
    # New consent lifts only what the recipient asked for: an unsubscribe, never a block.
    if entry.state is State.BLACKLISTED and entry.reason == "unsubscribe":
        return Decision(replace(entry, state=State.ACTIVE, reason="opt_in"), State.ACTIVE, "opt_in")
    return None


def _delivered(entry: Entry) -> Decision | None:
    if entry.temp_block_count == 0 and entry.soft_bounce_count == 0:
        return None
    reset = replace(entry, temp_block_count=0, soft_bounce_count=0)
    # Counters reset silently: deliveries are facts, not history rows.
    return Decision(reset, entry.state, "delivered", changed=False, record=False)


def unlock_due(entry: Entry, now: datetime) -> bool:
    """The nightly unlock's rule; the job runs it as one SQL statement with the same test."""
    return (
        entry.state is State.TEMPORARILY_BLOCKED
        and entry.blocked_until is not None
        and entry.blocked_until <= now
    )


# The same rule in SQL, for the nightly unlock (jobs/unlock.py; NULL <= :now is not true).
# tests/integration/test_rule_pairs.py runs both on the same rows.
UNLOCK_DUE_SQL = "state = 'temporarily_blocked' AND blocked_until <= :now"
