"""The operator rules (who may lift what), targets, and the effective-state rule: pure."""

from __future__ import annotations

import hmac
from typing import NamedTuple

import pytest

from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.effective import applies, ruling
from bounce_worker.domain.permissions import (
    Refused,
    Role,
    check_scope,
    lifted,
    may_hide,
    may_lift,
    may_suppress,
    suppressed,
)
from bounce_worker.domain.policy import Entry, Scope, State
from bounce_worker.domain.targets import forgotten_key, forgotten_matcher, parse_target

OWNER, SUPPORT = Role.OWNER, Role.SUPPORT
ORG, GLOBAL, LIST = Scope.ORGANIZATION, Scope.GLOBAL, Scope.LIST


@pytest.mark.parametrize(
    ("role", "scope", "state", "allowed"),
    [
        (OWNER, ORG, State.BLACKLISTED, True),
        (OWNER, LIST, State.BLACKLISTED, True),
        (OWNER, ORG, State.BLOCKED, False),  # complaint: support only
        (OWNER, ORG, State.TEMPORARILY_BLOCKED, False),
        (OWNER, GLOBAL, State.BLACKLISTED, False),  # affects every organization
        (SUPPORT, GLOBAL, State.BLOCKED, True),
        (SUPPORT, ORG, State.BLOCKED, True),
        (SUPPORT, GLOBAL, State.TEMPORARILY_BLOCKED, True),
    ],
)
def test_who_may_lift(role: Role, scope: Scope, state: State, allowed: bool) -> None:
    if allowed:
        may_lift(role, scope, state)
    else:
        with pytest.raises(Refused, match="only support"):
            may_lift(role, scope, state)


def test_nothing_to_lift_on_an_active_entry() -> None:
    with pytest.raises(Refused, match="nothing to lift"):
        may_lift(SUPPORT, GLOBAL, State.ACTIVE)


def test_owner_adds_only_blacklisted_entries_of_their_organization() -> None:
    may_suppress(OWNER, ORG, State.BLACKLISTED)
    may_suppress(SUPPORT, GLOBAL, State.BLOCKED)
    with pytest.raises(Refused, match="only support may add a blocked"):
        may_suppress(OWNER, ORG, State.BLOCKED)
    with pytest.raises(Refused, match="global"):
        may_suppress(OWNER, GLOBAL, State.BLACKLISTED)
    may_hide(OWNER, LIST)
    with pytest.raises(Refused, match="global"):
        may_hide(OWNER, GLOBAL)


@pytest.mark.parametrize(
    ("scope", "org", "lst", "message"),
    [
        (GLOBAL, "acme", None, "neither"),
        (ORG, None, None, "needs --organization"),
        (LIST, "acme", None, "needs --list"),
        (ORG, "acme", "news", "--list needs --scope list"),
    ],
)
def test_key_parts_must_match_the_scope(
    scope: Scope, org: str | None, lst: str | None, message: str
) -> None:
    with pytest.raises(Refused, match=message):
        check_scope(scope, org, lst)


def test_manual_entry_never_weakens_and_lift_keeps_the_ladder() -> None:
    blocked = Entry(state=State.BLOCKED, reason="hard_bounce", temp_block_count=3)
    assert suppressed(blocked, State.BLACKLISTED) is None
    decision = suppressed(Entry(), State.BLACKLISTED)
    assert decision is not None
    assert (decision.to_state, decision.entry.reason) == (State.BLACKLISTED, "manual")
    back = lifted(blocked)
    assert (back.entry.state, back.entry.reason, back.entry.temp_block_count) == (
        State.ACTIVE,
        "lifted",
        3,
    )


def test_targets() -> None:
    assert parse_target(" John@Example.ORG ").channel == "email"
    assert parse_target("John@Example.ORG").key == "john@example.org"
    assert parse_target("@Example.ORG").key == "example.org"
    assert parse_target("@Example.ORG").channel == "domain"
    assert parse_target("example.org").key == "example.org"
    phone = parse_target("+49 151 1234 5678")
    assert (phone.channel, phone.key) == ("sms", "+4915112345678")
    for bad in ("", "not a domain", "+12", "a@b@"):
        with pytest.raises(InvalidAddress):
            parse_target(bad)


def test_forgotten_key_is_stable_and_keyed() -> None:
    one = forgotten_key("secret", "email", "a@b.org")
    assert one == forgotten_key("secret", "email", "a@b.org")
    assert one.startswith("hmac:") and len(one) == 5 + 64
    assert one != forgotten_key("other", "email", "a@b.org")
    assert "a@b.org" not in one


@pytest.mark.parametrize("secret", ["", "k", "s" * 63, "s" * 64, "s" * 65, "é" * 100])
def test_forgotten_matcher_finds_exactly_the_forgotten_keys(secret: str) -> None:
    # The matcher builds HMAC from hashlib for speed; it must find what forgotten_key
    # (the standard hmac module) stored, and nothing else.
    keys = ["a@b.org", "ü" * 40 + "@b.org", "c@d.org", "+4915112345678"]
    stored = [forgotten_key(secret, "email", k) for k in keys[:2]]
    stored += [forgotten_key("other", "email", "c@d.org"), "hmac:" + "A" * 64, "hmac:x"]
    match = forgotten_matcher(secret, "email", stored)
    assert match(keys) == {stored[0]: keys[0], stored[1]: keys[1]}
    assert forgotten_matcher(secret, "sms", stored)(keys) == {}
    assert stored[0] == "hmac:" + hmac.new(secret.encode(), b"email:a@b.org", "sha256").hexdigest()


class E(NamedTuple):
    scope: str
    organization: str
    list: str
    state: str


def test_effective_state_is_the_strongest_that_applies() -> None:
    entries = [
        E("global", "", "", "temporarily_blocked"),
        E("organization", "acme", "", "blacklisted"),
        E("list", "acme", "news", "blocked"),
        E("organization", "other", "", "blocked"),
    ]
    assert ruling(entries, None, None) == entries[0]
    assert ruling(entries, "acme", None) == entries[1]
    assert ruling(entries, "acme", "news") == entries[2]
    assert ruling(entries, "acme", "promo") == entries[1]
    assert ruling([], "acme", None) is None
    assert not applies(entries[3], "acme", None)
