"""Set-based effective-state lookups: thousands of addresses per query.

`api.check` reads one address with its history; the import check and `api.check_many`
ask the same question for millions. Both collect the same candidate keys (the address, its
keyed hash if it was forgotten, its domain) and let `domain.effective.ruling` decide.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Engine, String, and_, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from bounce_worker.domain.addresses import domain_of
from bounce_worker.domain.effective import ruling
from bounce_worker.domain.policy import State
from bounce_worker.domain.targets import forgotten_key
from bounce_worker.store.models import EntryRow

CHUNK = 5000  # addresses per query: large enough to amortize a round trip, small for SQLite


class Hit(NamedTuple):
    """The columns of an entry a verdict needs (shaped like an entry for `ruling`)."""

    channel: str
    address: str
    scope: str
    organization: str
    list: str
    state: str
    reason: str | None
    blocked_until: datetime | None


def candidate_keys(channel: str, key: str, secret: str | None) -> list[tuple[str, str]]:
    """Every (channel, address) whose entries may apply to a send to `key`."""
    keys = [(channel, key)]
    if secret:
        keys.append((channel, forgotten_key(secret, channel, key)))
    domain = domain_of(key) if channel == "email" else None
    if domain:
        keys.append(("domain", domain))
    return keys


def fetch(
    engine: Engine, pairs: Iterable[tuple[str, str]], organization: str | None
) -> dict[tuple[str, str], list[Hit]]:
    """The suppressing entries of these keys that could apply to `organization`.

    The SQL only narrows (not active; global or this organization); the rule itself is
    `ruling`'s, applied by the caller."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    for channel, address in pairs:
        by_channel[channel].add(address)
    if not by_channel:
        return {}
    pg = engine.dialect.name == "postgresql"
    matches = []
    for channel, addresses in by_channel.items():
        # PostgreSQL: one array parameter (= ANY) instead of 5,000 bound values.
        wanted = (
            EntryRow.address == any_(bindparam(f"a_{channel}", list(addresses), ARRAY(String)))
            if pg
            else EntryRow.address.in_(addresses)
        )
        matches.append(and_(EntryRow.channel == channel, wanted))
    orgs = ["", organization] if organization else [""]
    stmt = select(*(getattr(EntryRow, f) for f in Hit._fields)).where(
        or_(*matches), EntryRow.state != State.ACTIVE, EntryRow.organization.in_(orgs)
    )
    found: dict[tuple[str, str], list[Hit]] = defaultdict(list)
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            hit = Hit(*row)
            found[(hit.channel, hit.address)].append(hit)
    return found


def rulings(
    engine: Engine,
    channel: str,
    keys: Sequence[str],
    organization: str | None,
    list_id: str | None,
    secret: str | None,
) -> dict[str, Hit | None]:
    """For each address key, the entry that stops a send to it, or None (may send)."""
    candidates = {key: candidate_keys(channel, key, secret) for key in keys}
    found = fetch(engine, (p for pairs in candidates.values() for p in pairs), organization)
    return {
        key: ruling((h for p in pairs for h in found.get(p, ())), organization, list_id)
        for key, pairs in candidates.items()
    }
