"""SPEC section 3, row by row, on the pure policy: no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bounce_worker.domain import classify as c
from bounce_worker.domain.classify import Category
from bounce_worker.domain.policy import (
    Entry,
    PolicySettings,
    Scope,
    State,
    decide,
    strongest,
    target_scope,
    unlock_due,
)

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
S = PolicySettings()


def climb(entry: Entry, at: datetime) -> Entry:
    decision = decide(entry, c.MAILBOX_FULL, at, S)
    assert decision is not None
    return decision.entry


def test_hard_bounce_blocks() -> None:
    d = decide(Entry(), c.HARD_BOUNCE, T0, S)
    assert d and d.changed and d.to_state is State.BLOCKED and d.reason == "hard_bounce"


def test_complaint_blocks_and_unsubscribe_blacklists() -> None:
    assert decide(Entry(), c.COMPLAINT, T0, S).entry.state is State.BLOCKED  # type: ignore[union-attr]
    d = decide(Entry(), c.UNSUBSCRIBE, T0, S)
    assert d and d.entry.state is State.BLACKLISTED and d.reason == "unsubscribe"


@pytest.mark.parametrize("n, days", [(1, 1), (2, 2), (3, 3), (4, 90), (5, 90), (9, 90)])
def test_ladder_1_2_3_then_90_days(n: int, days: int) -> None:
    entry, at = Entry(), T0
    for _ in range(n):
        entry = climb(entry, at)
        last_start = at
        at = entry.blocked_until + timedelta(hours=1)  # type: ignore[operator]
    assert entry.state is State.TEMPORARILY_BLOCKED
    assert entry.temp_block_count == n
    assert entry.blocked_until == last_start + days * DAY


def test_fifth_error_soon_after_a_90_day_block_gives_90_again() -> None:
    entry, at = Entry(), T0
    for _ in range(4):
        entry = climb(entry, at)
        at = entry.blocked_until + DAY  # type: ignore[operator]
    entry = climb(entry, at)
    assert entry.blocked_until == at + 90 * DAY and entry.temp_block_count == 5


def test_error_during_the_block_is_recorded_but_does_not_climb() -> None:
    entry = climb(Entry(), T0)
    d = decide(entry, c.MAILBOX_FULL, T0 + timedelta(hours=5), S)
    assert d and not d.changed and d.record and d.entry == entry


def test_block_ending_exactly_now_lets_the_next_error_climb() -> None:
    entry = climb(Entry(), T0)
    d = decide(entry, c.MAILBOX_FULL, entry.blocked_until, S)  # type: ignore[arg-type]
    assert d and d.changed and d.entry.temp_block_count == 2


def test_quiet_period_resets_the_ladder_both_sides_of_the_boundary() -> None:
    entry = climb(climb(Entry(), T0), T0 + 2 * DAY)  # second block: 2 days
    end = entry.blocked_until
    assert end is not None
    just_before = climb(entry, end + S.quiet_period - timedelta(seconds=1))
    assert just_before.temp_block_count == 3
    at_boundary = climb(entry, end + S.quiet_period)
    assert (
        at_boundary.temp_block_count == 1
        and at_boundary.blocked_until == end + S.quiet_period + DAY
    )


def test_delivery_resets_counts_without_a_history_row() -> None:
    entry = climb(Entry(soft_bounce_count=3), T0)
    d = decide(entry, c.DELIVERED, T0 + DAY, S)
    assert d and not d.record and d.entry.temp_block_count == 0 and d.entry.soft_bounce_count == 0
    assert d.entry.state is State.TEMPORARILY_BLOCKED  # a delivery does not lift a block
    assert decide(Entry(), c.DELIVERED, T0, S) is None


def test_mailbox_full_on_blocked_is_history_only() -> None:
    blocked = Entry(state=State.BLOCKED, reason="hard_bounce")
    d = decide(blocked, c.MAILBOX_FULL, T0, S)
    assert d and d.record and not d.changed and d.entry == blocked and d.reason == "mailbox_full"


@pytest.mark.parametrize(
    "current, outcome",
    [
        (State.BLOCKED, c.UNSUBSCRIBE),
        (State.BLOCKED, c.SOFT_BOUNCE),
        (State.BLACKLISTED, c.MAILBOX_FULL),
        (State.BLOCKED, c.HARD_BOUNCE),
        (State.BLACKLISTED, c.UNSUBSCRIBE),
    ],
)
def test_never_weakens(current: State, outcome: c.Outcome) -> None:
    d = decide(Entry(state=current, reason="x", soft_bounce_count=10), outcome, T0, S)
    assert d is not None and d.entry.state is current and not d.changed


def test_hard_bounce_strengthens_a_temporary_block() -> None:
    entry = climb(Entry(), T0)
    d = decide(entry, c.HARD_BOUNCE, T0 + DAY, S)
    assert d and d.entry.state is State.BLOCKED and d.entry.blocked_until is None


def test_soft_bounces_blacklist_after_the_limit() -> None:
    entry = Entry()
    for i in range(1, 5):
        d = decide(entry, c.SOFT_BOUNCE, T0, S)
        assert d and not d.changed and d.record and d.entry.soft_bounce_count == i
        entry = d.entry
    d = decide(entry, c.SOFT_BOUNCE, T0, S)
    assert (
        d and d.changed and d.entry.state is State.BLACKLISTED and d.reason == "soft_bounce_limit"
    )
    assert decide(Entry(), c.SOFT_BOUNCE, T0, PolicySettings(soft_bounce_limit=1)).changed  # type: ignore[union-attr]


def test_policy_rejection_is_recorded_and_never_suppresses() -> None:
    d = decide(Entry(), c.POLICY, T0, S)
    assert d and d.record and not d.changed and d.entry == Entry()


def test_opt_in_lifts_an_unsubscribe_only() -> None:
    d = decide(Entry(state=State.BLACKLISTED, reason="unsubscribe"), c.OPT_IN, T0, S)
    assert d and d.entry.state is State.ACTIVE and d.reason == "opt_in"
    assert (
        decide(Entry(state=State.BLACKLISTED, reason="soft_bounce_limit"), c.OPT_IN, T0, S) is None
    )
    assert decide(Entry(state=State.BLOCKED, reason="complaint"), c.OPT_IN, T0, S) is None


def test_ignored_feedback_records_nothing() -> None:
    assert decide(Entry(), c.IGNORED_FEEDBACK, T0, S) is None


@pytest.mark.parametrize(
    "outcome, org, lst, scope",
    [
        (c.HARD_BOUNCE, "acme", "news", Scope.GLOBAL),
        (c.MAILBOX_FULL, "acme", None, Scope.GLOBAL),
        (c.POLICY, "acme", None, Scope.GLOBAL),
        (c.COMPLAINT, "acme", "news", Scope.ORGANIZATION),
        (c.UNSUBSCRIBE, "acme", None, Scope.ORGANIZATION),
        (c.UNSUBSCRIBE, "acme", "news", Scope.LIST),
        (c.SOFT_BOUNCE, "acme", None, Scope.ORGANIZATION),
        (c.COMPLAINT, None, None, Scope.GLOBAL),
    ],
)
def test_scopes(outcome: c.Outcome, org: str | None, lst: str | None, scope: Scope) -> None:
    assert target_scope(outcome, org, lst) is scope


def test_strength_order() -> None:
    assert (
        strongest([State.ACTIVE, State.TEMPORARILY_BLOCKED, State.BLACKLISTED]) is State.BLACKLISTED
    )
    assert strongest([State.BLACKLISTED, State.BLOCKED]) is State.BLOCKED
    assert strongest([]) is State.ACTIVE


def test_unlock_due_boundary() -> None:
    entry = Entry(state=State.TEMPORARILY_BLOCKED, blocked_until=T0)
    assert unlock_due(entry, T0)
    assert not unlock_due(entry, T0 - timedelta(microseconds=1))
    assert not unlock_due(Entry(state=State.BLOCKED, blocked_until=T0), T0)


def test_every_category_is_handled() -> None:
    handled = {Category.IGNORED, Category.OPT_IN, Category.DELIVERED}
    for category in Category:
        outcome = c.Outcome(category, "r")
        result = decide(Entry(state=State.BLACKLISTED, reason="unsubscribe"), outcome, T0, S)
        assert result is not None or category in handled
