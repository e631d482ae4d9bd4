"""Set-based effective-state lookups: thousands of addresses per query.

`api.check` reads one address with its history; the import check and `api.check_many`
ask the same question for millions. Both collect the same candidate keys (the address, its
keyed hash if it was forgotten, its domain) and let `domain.effective.ruling` decide.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, Select, String, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from bounce_worker.domain.effective import ruling
from bounce_worker.domain.policy import State
from bounce_worker.domain.targets import forgotten_hasher
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


def candidate_keys(
    channel: str, key: str, hashed: Callable[[str], str] | None
) -> list[tuple[str, str]]:
    """Every (channel, address) whose entries may bear on a send to `key`: its own, its
    keyed hash's (`hashed`: domain.targets.forgotten_hasher; if it was forgotten) and its
    domain's."""
    keys = [(channel, key)]
    if hashed is not None:
        keys.append((channel, hashed(key)))
    if channel == "email" and "@" in key:
        keys.append(("domain", key[key.rindex("@") + 1 :]))
    return keys


def fetch(engine: Engine, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[Hit]]:
    """The suppressing entries of these keys (every scope and organization: which apply
    is `ruling`'s rule, applied by the caller; filtering organizations in SQL made SQLite
    pick the organization index over the key's)."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    for channel, address in pairs:
        by_channel[channel].add(address)
    if not by_channel:
        return {}
    found: dict[tuple[str, str], list[Hit]] = defaultdict(list)
    with engine.connect() as conn:
        for channel, addresses in by_channel.items():
            params = {"channel": channel, "keys": _as_parameter(engine, addresses)}
            for row in conn.execute(_query(engine), params):
                hit = Hit(*row)
                found[(hit.channel, hit.address)].append(hit)
    return found


def _query(engine: Engine) -> Select[Any]:
    """The chunk's addresses arrive as ONE bound value (a PostgreSQL array, a JSON array
    for SQLite's json_each): binding 5,000 separate values costs more than the query. The
    key list drives the join, so each address is one probe of the entries' unique index."""
    if engine.dialect.name == "postgresql":
        keys = select(func.unnest(bindparam("keys", type_=ARRAY(String))))
    else:
        keys = select(column("value")).select_from(func.json_each(bindparam("keys")))
    return select(*(getattr(EntryRow, f) for f in Hit._fields)).where(
        EntryRow.channel == bindparam("channel"),
        EntryRow.address.in_(keys.scalar_subquery()),
        EntryRow.state != State.ACTIVE,
    )


def _as_parameter(engine: Engine, keys: set[str]) -> Any:
    return list(keys) if engine.dialect.name == "postgresql" else json.dumps(list(keys))


def rulings(
    engine: Engine,
    channel: str,
    keys: Sequence[str],
    organization: str | None,
    list_id: str | None,
    secret: str | None,
) -> dict[str, Hit | None]:
    """For each address key, the entry that stops a send to it, or None (may send)."""
    hashed = forgotten_hasher(secret, channel) if secret else None
    candidates = {key: candidate_keys(channel, key, hashed) for key in keys}
    found = fetch(engine, (p for pairs in candidates.values() for p in pairs))
    verdicts: dict[str, Hit | None] = {}
    for key, pairs in candidates.items():
        hits = [h for p in pairs if p in found for h in found[p]]
        verdicts[key] = ruling(hits, organization, list_id) if hits else None
    return verdicts
