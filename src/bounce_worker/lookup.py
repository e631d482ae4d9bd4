"""Set-based effective-state lookups: thousands of addresses per query.

`api.check` reads one address with its history; the import check and `api.check_many`
ask the same question for millions. Both collect the same candidate keys (the address, its
keyed hash if it was forgotten, its domain) and let `domain.effective.ruling` decide.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, Select, String, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from bounce_worker.domain.effective import ruling
from bounce_worker.domain.policy import State
from bounce_worker.domain.targets import FORGOTTEN_PREFIX, forgotten_hasher
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
    channel: str, key: str, hashed: Callable[[str], str | None] | None
) -> list[tuple[str, str]]:
    """Every (channel, address) whose entries may bear on a send to `key`: its own, its
    keyed hash's if it was forgotten (`hashed`), and its domain's. `Lookup.rulings` is the
    same enumeration for thousands at once (tests check both agree)."""
    keys = [(channel, key)]
    hashed_key = hashed(key) if hashed is not None else None
    if hashed_key:
        keys.append((channel, hashed_key))
    if channel == "email" and "@" in key:
        keys.append(("domain", key[key.rindex("@") + 1 :]))
    return keys


def fetch(engine: Engine, wanted: dict[str, set[str]]) -> dict[str, dict[str, list[Hit]]]:
    """The suppressing entries of these keys, by channel and address. Every scope and
    organization comes back: which apply is `ruling`'s rule, applied by the caller
    (filtering organizations in SQL made SQLite pick the organization index)."""
    found: dict[str, dict[str, list[Hit]]] = defaultdict(lambda: defaultdict(list))
    with engine.connect() as conn:
        for channel, addresses in wanted.items():
            if not addresses:
                continue
            params = {"channel": channel, "keys": _as_parameter(engine, addresses)}
            for row in conn.execute(_query(engine), params):
                hit = Hit(*row)
                found[channel][hit.address].append(hit)
    return found


def _query(engine: Engine) -> Select[Any]:
    """The chunk's addresses arrive as ONE bound value (a PostgreSQL array, a JSON array
    for SQLite's json_each): binding 5,000 separate values costs more than the query.
    Each address is then one probe of the entries' unique (channel, address, ...) index."""
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


class Lookup:
    """Effective states for many addresses of one channel (an import, a `check_many`)."""

    def __init__(self, engine: Engine, channel: str, secret: str | None) -> None:
        self.engine, self.channel = engine, channel
        self.hashed = self._forgotten(secret)

    def _forgotten(self, secret: str | None) -> Callable[[str], str | None] | None:
        """Hashing every address costs as much as the rest of the check; it is only needed
        when forgotten entries exist, and then only hashes that are in use are looked up."""
        if not secret:
            return None
        stmt = select(EntryRow.address).where(
            EntryRow.channel == self.channel, EntryRow.address.startswith(FORGOTTEN_PREFIX)
        )
        with self.engine.connect() as conn:
            in_use = set(conn.scalars(stmt))
        if not in_use:
            return None
        hasher = forgotten_hasher(secret, self.channel)

        def hashed(key: str) -> str | None:
            hashed_key = hasher(key)
            return hashed_key if hashed_key in in_use else None

        return hashed

    def rulings(
        self, keys: Iterable[str], organization: str | None, list_id: str | None
    ) -> dict[str, Hit]:
        """For the address keys a send to which is stopped, the entry that stops it; a key
        that is not in the result may be sent to. Work is per hit, not per key, beyond
        grouping the keys by hash and domain."""
        own = set(keys)
        by_hash: dict[str, str] = {}
        if self.hashed is not None:
            by_hash = {h: k for k in own if (h := self.hashed(k)) is not None}
        by_domain: dict[str, list[str]] = defaultdict(list)
        if self.channel == "email":
            for k in own:
                by_domain[k[k.rindex("@") + 1 :]].append(k)
        found = fetch(self.engine, {self.channel: own | by_hash.keys(), "domain": set(by_domain)})
        hits_of: dict[str, list[Hit]] = defaultdict(list)
        for address, hits in found[self.channel].items():
            hits_of[address if address in own else by_hash[address]].extend(hits)
        for domain, hits in found["domain"].items():
            for key in by_domain[domain]:
                hits_of[key].extend(hits)
        verdicts = {key: ruling(hits, organization, list_id) for key, hits in hits_of.items()}
        return {key: hit for key, hit in verdicts.items() if hit is not None}
