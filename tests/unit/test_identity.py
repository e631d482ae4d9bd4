"""Who may act for which organization, and which roles may change entries (pure)."""

from __future__ import annotations

import pytest

from bounce_worker.domain.identity import Forbidden, Principal, acting_for, require_role
from bounce_worker.domain.permissions import Refused, Role, may_hide, may_lift, may_suppress
from bounce_worker.domain.policy import Scope, State

ACME_OWNER = Principal("k1", "ann", Role.OWNER, "acme")
SUPPORT = Principal("k2", "sue", Role.SUPPORT, "platform")
PLATFORM_PRODUCER = Principal("k3", "mta", Role.PRODUCER, None)
ACME_SENDER = Principal("k4", "app", Role.SENDER, "acme")


def test_an_organization_key_acts_for_its_own_organization_only() -> None:
    assert acting_for(ACME_OWNER, None) == "acme"
    assert acting_for(ACME_OWNER, "acme") == "acme"
    with pytest.raises(Forbidden, match="belongs to organization 'acme', not 'globex'"):
        acting_for(ACME_OWNER, "globex")
    with pytest.raises(Forbidden):
        acting_for(ACME_SENDER, "globex")


def test_a_platform_wide_key_names_any_organization_or_none() -> None:
    assert acting_for(SUPPORT, "globex") == "globex"
    assert acting_for(SUPPORT, None) is None
    assert acting_for(PLATFORM_PRODUCER, "acme") == "acme"
    assert not ACME_OWNER.platform_wide and SUPPORT.platform_wide


def test_require_role_names_what_is_needed() -> None:
    require_role(SUPPORT, {Role.SUPPORT}, "forget")
    with pytest.raises(Forbidden, match="a sender key may not forget \\(needs support\\)"):
        require_role(ACME_SENDER, {Role.SUPPORT}, "forget")


def test_actor_names_holder_and_key() -> None:
    assert ACME_OWNER.actor == "ann (key k1)"


@pytest.mark.parametrize("role", [Role.SENDER, Role.PRODUCER])
def test_sender_and_producer_change_no_entry(role: Role) -> None:
    # Before roles came from keys, any role that was not "owner" acted as support.
    with pytest.raises(Refused, match=f"a {role} key may not"):
        may_suppress(role, Scope.ORGANIZATION, State.BLACKLISTED)
    with pytest.raises(Refused):
        may_lift(role, Scope.ORGANIZATION, State.BLACKLISTED)
    with pytest.raises(Refused):
        may_hide(role, Scope.ORGANIZATION)
