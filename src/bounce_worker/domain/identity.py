"""Who is asking (a Principal, resolved once from an API key at the edge) and for whom
they may act. Pure: no database, no HTTP.

The organization a call acts for comes from the key. A platform-wide key (support, or a
producer made without an organization) may name any organization; an organization's key
may name only its own, and naming another is refused, never silently narrowed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from bounce_worker.domain.permissions import Role


class Forbidden(Exception):
    """The principal may not make this call; the message says why in one line (HTTP 403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str  # the public part of the key (shown by `keys list`, kept in the audit)
    name: str  # who holds it, as given to `keys create --name`
    role: Role
    organization: str | None  # None: platform-wide (support, a platform producer)

    @property
    def platform_wide(self) -> bool:
        return self.role is Role.SUPPORT or self.organization is None

    @property
    def actor(self) -> str:
        """What transitions record as the actor: the holder's name and the key."""
        return f"{self.name} (key {self.key_id})"


def article(role: Role) -> str:
    return "an" if str(role)[0] in "aeiou" else "a"


def require_role(principal: Principal, allowed: Collection[Role], action: str) -> None:
    if principal.role not in allowed:
        names = " or ".join(sorted(str(r) for r in allowed))
        raise Forbidden(
            f"{article(principal.role)} {principal.role} key may not {action} (needs {names})"
        )


def acting_for(principal: Principal, requested: str | None) -> str | None:
    """The organization the call acts for: the key's own, or for a platform-wide key the
    one it names (None: every organization / the global scope)."""
    if principal.platform_wide:
        return requested or None
    if requested and requested != principal.organization:
        raise Forbidden(
            f"this key belongs to organization {principal.organization!r}, not {requested!r}"
        )
    return principal.organization
