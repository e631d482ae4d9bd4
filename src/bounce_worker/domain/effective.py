"""The effective state of a send (SPEC 2): the strongest of the global, organization, list
and domain entries that apply, and of the Robinson lists (robinson.py) that do. One rule,
used by `api.check`, `check_many` and the import check alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from bounce_worker.domain.policy import STRENGTH, Scope, State


class Keyed(Protocol):
    """Anything shaped like an entry: an ORM row or a lightweight result row."""

    @property
    def scope(self) -> str: ...
    @property
    def organization(self) -> str: ...
    @property
    def list(self) -> str: ...
    @property
    def state(self) -> str: ...


E = TypeVar("E", bound=Keyed)


# A Robinson list's hit (not an entry): platform-wide (organization '') or one organization's.
ROBINSON = "robinson"


def applies(entry: Keyed, organization: str | None, list_id: str | None) -> bool:
    if entry.scope == Scope.GLOBAL:
        return True
    if entry.scope == ROBINSON:
        return not entry.organization or entry.organization == organization
    if organization is None or entry.organization != organization:
        return False
    return entry.scope == Scope.ORGANIZATION or entry.list == list_id


def ruling(entries: Iterable[E], organization: str | None, list_id: str | None) -> E | None:
    """The applicable entry with the strongest state (None: nothing applies)."""
    best: E | None = None
    for entry in entries:
        if applies(entry, organization, list_id) and (
            best is None or STRENGTH[State(entry.state)] > STRENGTH[State(best.state)]
        ):
            best = entry
    return best
