"""Who may change what (SPEC 1): the operator rules, pure.

The account owner manages the relationship between their organization and its recipients:
they may add, delete, restore and lift `blacklisted` entries of their own organization (or
its lists). Whatever protects the platform's reputation - `blocked` entries, temporary
blocks and every global entry - is lifted by support only, with a written reason.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from bounce_worker.domain.policy import STRENGTH, Decision, Entry, Scope, State

MANUAL = "manual"  # reason code of an operator's entry
LIFTED = "lifted"  # reason code of an operator's lift


class Role(StrEnum):
    """What an API key (or the CLI's --role) may do. Only owner and support change entries."""

    SENDER = "sender"  # asks "may I send?" for its organization, nothing else
    OWNER = "owner"  # an organization's account: its entries, its lists, its policy
    SUPPORT = "support"  # the platform's operators: everything, every organization
    PRODUCER = "producer"  # posts feedback events for its organization (/v1/events)


OPERATOR_ROLES = frozenset({Role.OWNER, Role.SUPPORT})


class Refused(ValueError):
    """The actor may not do this; the message says why in one line."""


class Invalid(Refused):
    """Not a permission matter: the request itself is incomplete or contradictory."""


def check_scope(scope: Scope, organization: str | None, list_id: str | None) -> None:
    """The key's parts must match its scope (a bad argument, not a permission)."""
    if scope is Scope.GLOBAL and (organization or list_id):
        raise Invalid("a global entry takes neither --organization nor --list")
    if scope is not Scope.GLOBAL and not organization:
        raise Invalid(f"--scope {scope} needs --organization")
    if scope is Scope.LIST and not list_id:
        raise Invalid("a list entry needs --list")
    if scope is Scope.ORGANIZATION and list_id:
        raise Invalid("--list needs --scope list")


def _owner_reach(role: Role, scope: Scope, action: str) -> None:
    if role not in OPERATOR_ROLES:
        raise Refused(f"a {role} key may not {action} entries (owner or support only)")
    if role is Role.OWNER and scope is Scope.GLOBAL:
        raise Refused(f"only support may {action} a global entry (it affects every organization)")


def may_suppress(role: Role, scope: Scope, state: State) -> None:
    _owner_reach(role, scope, "add")
    if role is Role.OWNER and state is not State.BLACKLISTED:
        raise Refused(f"only support may add a {state} entry; an account owner adds blacklisted")


def may_hide(role: Role, scope: Scope) -> None:
    """Delete and restore change visibility only: the entry stays enforced either way."""
    _owner_reach(role, scope, "delete or restore")


def may_lift(role: Role, scope: Scope, state: State) -> None:
    if state is State.ACTIVE:
        raise Refused("nothing to lift: the entry is active")
    _owner_reach(role, scope, "lift")
    if role is Role.OWNER and state is not State.BLACKLISTED:
        raise Refused(f"only support may lift a {state} entry (with a written reason)")


def suppressed(entry: Entry, state: State) -> Decision | None:
    """A manual entry raises the state; like an event, it never weakens one (None)."""
    if STRENGTH[entry.state] >= STRENGTH[state]:
        return None
    return Decision(replace(entry, state=state, reason=MANUAL, blocked_until=None), state, MANUAL)


def lifted(entry: Entry) -> Decision:
    # Counters stay: the escalation ladder is the mailbox's history, not the entry's state.
    return Decision(
        replace(entry, state=State.ACTIVE, reason=LIFTED, blocked_until=None), State.ACTIVE, LIFTED
    )
