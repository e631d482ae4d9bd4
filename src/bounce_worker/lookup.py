"""Set-based effective-state lookups: thousands of addresses per query.

`api.check` reads one address with its history; the import check and `api.check_many`
ask the same question for millions. Both collect the same candidate keys (the address, its
keyed hash if it was forgotten, its domain) and let `domain.effective.ruling` decide.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Select,
    String,
    and_,
    bindparam,
    cast,
    column,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from bounce_worker import robinson
from bounce_worker.config import ConfigError
from bounce_worker.domain.effective import ROBINSON, ruling
from bounce_worker.domain.policy import State
from bounce_worker.domain.targets import FORGOTTEN_PREFIX, forgotten_matcher
from bounce_worker.robinson import REASON, STATE, digest
from bounce_worker.store.db import async_hot_reader, hot_reader, reader
from bounce_worker.store.models import FORGOTTEN, EntryRow

CHUNK = 5000  # addresses per query: large enough to amortize a round trip, small for SQLite
PG_CHUNK = 10_000  # on PostgreSQL: a whole API batch in one statement
MAX_DOMAINS = 200_000  # domains whose entries a Lookup keeps between chunks
ROBINSON_CHANNELS = frozenset({"email", "sms"})  # what a Robinson list may hold


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
    keyed hash's if it was forgotten (`hashed`), and its domain's. `Lookup.prepare` is the
    same enumeration for thousands at once (tests/integration/test_rule_pairs.py runs both
    on the same rows)."""
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
    (filtering organizations in SQL made SQLite pick the organization index). An address's
    own entries come in the unique index's order (scope, organization, list), then its
    Robinson lists by list id: `ruling` keeps the first of equally strong entries."""
    if engine.dialect.name == "postgresql":
        return _fetch_pg(engine, wanted)
    found: dict[str, dict[str, list[Hit]]] = defaultdict(lambda: defaultdict(list))
    with engine.connect() as conn:
        for channel, addresses in wanted.items():
            if not addresses:
                continue
            params = {"channel": channel, "keys": _as_parameter(addresses)}
            for row in conn.execute(_query(engine), params):
                hit = Hit(*row)
                found[channel][hit.address].append(hit)
            for key, hits in robinson_hits(engine, channel, addresses, conn).items():
                found[channel][key].extend(hits)
    return found


# PostgreSQL: per channel, ONE index scan for all its keys (`address = ANY(array)`: the
# array sorted once, then walked down the unique index) instead of a LATERAL probe per
# key; the Robinson digests likewise (sha256() computed by PostgreSQL, like
# robinson.digest). The keys arrive as one bound JSON array each (see _query for why
# JSON); ARRAY(SELECT ...) makes it an array the planner cannot see the size of, so it
# keeps the index scan. 10,000 addresses, their domains and their digests: 55 ms of the
# database's CPU where the LATERAL probes took 70 (bench/api.py).
_ENTRIES_PART = (
    'SELECT e.channel, e.address, e.scope, e.organization, e."list", e.state, e.reason,'
    " e.blocked_until FROM entries AS e WHERE e.channel = %(c{n})s"
    " AND e.address = ANY(ARRAY(SELECT json_array_elements_text(CAST(%(k{n})s AS JSON))))"
    " AND e.state <> 'active'"
)
_ROBINSON_PART = """WITH k AS MATERIALIZED (
    SELECT x AS address, sha256(convert_to(x, 'UTF8')) AS digest
    FROM json_array_elements_text(CAST(%(keys)s AS JSON)) AS x)
SELECT k.address, l.organization, l.name
FROM robinson_entries AS r JOIN k ON k.digest = r.digest
JOIN robinson_lists AS l ON l.id = r.list_id
WHERE r.digest = ANY(ARRAY(SELECT digest FROM k))
ORDER BY k.address, r.list_id"""
# The Robinson statement runs on a second connection while the entries' runs: two
# backends, two cores (a batch's wall time is the longer of the two, not their sum).
_BESIDE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lookup-robinson")


def _fetch_pg(engine: Engine, wanted: dict[str, set[str]]) -> dict[str, dict[str, list[Hit]]]:
    found: dict[str, dict[str, list[Hit]]] = defaultdict(lambda: defaultdict(list))
    channels = [c for c in sorted(wanted) if wanted[c]]
    if not channels:
        return found
    listed = [c for c in channels if c in ROBINSON_CHANNELS]
    lists = {c: _BESIDE.submit(_robinson_pg, engine, wanted[c]) for c in listed}
    try:
        sql = " UNION ALL ".join(_ENTRIES_PART.format(n=n) for n in range(len(channels)))
        # Sorted keys: the index is walked in order (PostgreSQL checks for sorted input).
        params = {f"c{n}": c for n, c in enumerate(channels)}
        params |= {f"k{n}": json.dumps(sorted(wanted[c])) for n, c in enumerate(channels)}
        sql += " ORDER BY 1, 2, 3, 4, 5"  # the unique index's order within an address
        with reader(engine).connect() as conn:
            for row in conn.exec_driver_sql(sql, params):
                until = row[7] and row[7].astimezone(UTC)  # as the ORM's column gives it
                found[row[0]][row[1]].append(Hit(*row[:7], until))
    finally:
        # Waited for even when the entries' read failed: no orphan read left running.
        results = {c: future.result() for c, future in lists.items()}
    for channel, rows in results.items():
        into = found[channel]
        for key, org, name in rows:
            into[key].append(Hit(channel, key, ROBINSON, org, name, STATE, REASON, None))
    return found


def _robinson_pg(engine: Engine, keys: set[str]) -> list[tuple[str, str, str]]:
    """(address key, list organization, list name) of every Robinson list holding one of
    these keys. A forgotten address's keyed hash is in no list: not asked for."""
    asked = [k for k in keys if not k.startswith(FORGOTTEN_PREFIX)]
    if not asked:
        return []
    with reader(engine).connect() as conn:
        rows = conn.exec_driver_sql(_ROBINSON_PART, {"keys": json.dumps(sorted(asked))})
        return [(key, org, name) for key, org, name in rows]


_FEW: dict[int, Select[Any]] = {}
# The single check's statement per number of candidate keys (1 to 3: the address, its
# forgotten hash, its domain), written out: psycopg prepares each on first use.
_HIT_COLUMNS = 'channel, address, scope, organization, "list", state, reason, blocked_until'
# The Robinson lists (robinson.py) in the same statement: the address's digest, one probe.
_ROBINSON_SQL = (
    " UNION ALL SELECT %s, %s, 'robinson', l.organization, l.name, 'blacklisted', 'robinson',"
    " NULL::timestamptz FROM robinson_entries AS r JOIN robinson_lists AS l ON l.id = r.list_id"
    " WHERE r.digest = %s"
)
_FEW_SQL = {
    1: "SELECT " + _HIT_COLUMNS + " FROM entries WHERE (channel = %s AND address = %s)"
    " AND state <> 'active'" + _ROBINSON_SQL,
    2: "SELECT " + _HIT_COLUMNS + " FROM entries WHERE ((channel = %s AND address = %s)"
    " OR (channel = %s AND address = %s)) AND state <> 'active'" + _ROBINSON_SQL,
    3: "SELECT " + _HIT_COLUMNS + " FROM entries WHERE ((channel = %s AND address = %s)"
    " OR (channel = %s AND address = %s) OR (channel = %s AND address = %s))"
    " AND state <> 'active'" + _ROBINSON_SQL,
}


def fetch_few(engine: Engine, keys: list[tuple[str, str]]) -> list[Hit]:
    """The suppressing entries of a few (channel, address) keys - one address's
    `candidate_keys` - in one round trip: the hot path of a single check. The statement is
    built once per key count, and the read runs without a transaction (no BEGIN/ROLLBACK
    round trips for one SELECT). On PostgreSQL it runs as a prepared statement on a plain
    psycopg connection (store.db.HotReader): SQLAlchemy's own overhead was most of the
    check's CPU."""
    hot = hot_reader(engine)
    sql = _FEW_SQL.get(len(keys))
    if hot is not None and sql is not None:
        return _few_hits(hot.rows(sql, _few_params(keys)), keys)
    return _fetch_few_orm(engine, keys)


async def fetch_few_async(engine: Engine, keys: list[tuple[str, str]]) -> list[Hit]:
    """`fetch_few` awaited on the event loop (store.db.AsyncHotReader): the same statement
    and the same hits. On SQLite it is `fetch_few` itself (a local file, no round trip)."""
    hot = async_hot_reader(engine)
    sql = _FEW_SQL.get(len(keys))
    if hot is not None and sql is not None:
        return _few_hits(await hot.rows(sql, _few_params(keys)), keys)
    return fetch_few(engine, keys)


def _few_params(keys: list[tuple[str, str]]) -> list[str | bytes]:
    own_channel, own_key = keys[0]  # candidate_keys: the address itself comes first
    return [v for key in keys for v in key] + [own_channel, own_key, digest(own_key)]


def _few_hits(rows: list[tuple[Any, ...]], keys: list[tuple[str, str]]) -> list[Hit]:
    hits = [Hit(*row[:7], row[7] and row[7].astimezone(UTC)) for row in rows]
    return _in_key_order(hits, keys)


def _fetch_few_orm(engine: Engine, keys: list[tuple[str, str]]) -> list[Hit]:
    own_channel, own_key = keys[0]
    stmt = _FEW.get(len(keys))
    if stmt is None:
        pairs = [
            and_(EntryRow.channel == bindparam(f"c{n}"), EntryRow.address == bindparam(f"a{n}"))
            for n in range(len(keys))
        ]
        fields = (getattr(EntryRow, f) for f in Hit._fields)
        stmt = _FEW[len(keys)] = select(*fields).where(or_(*pairs), EntryRow.state != State.ACTIVE)
    params = {f"c{n}": ch for n, (ch, _) in enumerate(keys)}
    params |= {f"a{n}": key for n, (_, key) in enumerate(keys)}
    with reader(engine).connect() as conn:
        hits = [Hit(*row) for row in conn.execute(stmt, params)]
    hits += robinson_hits(engine, own_channel, [own_key]).get(own_key, [])
    return _in_key_order(hits, keys)


def robinson_hits(
    engine: Engine, channel: str, keys: Iterable[str], conn: Connection | None = None
) -> dict[str, list[Hit]]:
    """The Robinson lists holding these address keys, as hits (scope `robinson`, the list's
    organization, its name as the list; state blacklisted, reason robinson)."""
    if channel not in ROBINSON_CHANNELS:
        return {}
    keys = [k for k in keys if not k.startswith(FORGOTTEN_PREFIX)]
    return {
        key: [Hit(channel, key, ROBINSON, org, name, STATE, REASON, None) for org, name in found]
        for key, found in robinson.matches(engine, keys, conn).items()
    }


def _in_key_order(hits: list[Hit], keys: list[tuple[str, str]]) -> list[Hit]:
    if len(hits) < 2:
        return hits
    # In the keys' order (own address, keyed hash, domain), like `check`: `ruling` keeps
    # the first of equally strong entries.
    order = {key: n for n, key in enumerate(keys)}
    return sorted(
        hits,
        key=lambda h: (h.scope == ROBINSON, order.get((h.channel, h.address), len(keys))),
    )


def _query(engine: Engine) -> Select[Any]:
    """The chunk's addresses arrive as ONE bound value, a JSON array (PostgreSQL's
    json_array_elements_text, SQLite's json_each): binding 5,000 separate values costs more
    than the query, and psycopg spends 1.4 us per element adapting a list to an array where
    json.dumps spends 0.2. Each address is then one probe of the entries' unique
    (channel, address, ...) index."""
    if engine.dialect.name == "postgresql":
        keys = select(func.json_array_elements_text(cast(bindparam("keys", type_=String), JSON)))
    else:
        keys = select(column("value")).select_from(func.json_each(bindparam("keys")))
    return select(*(getattr(EntryRow, f) for f in Hit._fields)).where(
        EntryRow.channel == bindparam("channel"),
        EntryRow.address.in_(keys.scalar_subquery()),
        EntryRow.state != State.ACTIVE,
    )


def _as_parameter(keys: set[str]) -> str:
    return json.dumps(list(keys))


class Batch(NamedTuple):
    """One chunk's keys as `Lookup.prepare` found them: what to ask the database for."""

    own: set[str]  # the address keys
    by_hash: dict[str, str]  # keyed hash in use -> its address key
    domain_of: dict[str, str]  # address key -> its domain (email only)


class Found(NamedTuple):
    """What the database holds for a batch (`Lookup.fetch`)."""

    own: dict[str, list[Hit]]  # by address key or keyed hash, in the database's order
    domains: dict[str, list[Hit]]  # the batch's domains that have entries


class Lookup:
    """Effective states for many addresses of one channel (an import, a `check_many`).

    `rulings` does it in one call. Its three steps are separate so the import check can
    run `fetch` (waiting on the database) in a thread while `prepare` and `decide`, the
    Python work, go on in its own: only `fetch` touches the database or shared state."""

    def __init__(self, engine: Engine, channel: str, secret: str | None) -> None:
        self.engine, self.channel = engine, channel
        self.forgotten = self._forgotten(secret)
        # A file's addresses share few domains (997 in the bench, a handful of big
        # providers in real lists): each domain is asked once per lookup, not per chunk.
        self._domains: dict[str, list[Hit]] = {}

    def _forgotten(self, secret: str | None) -> Callable[[Iterable[str]], dict[str, str]] | None:
        """Hashing every address is one of an import check's larger costs; it is only
        needed when forgotten entries exist, and then only hashes in use are looked up."""
        if not secret:
            require_secret(self.engine, secret)
            return None
        stmt = select(EntryRow.address).where(EntryRow.channel == self.channel, FORGOTTEN)
        with self.engine.connect() as conn:
            in_use = set(conn.scalars(stmt))
        return forgotten_matcher(secret, self.channel, in_use) if in_use else None

    def rulings(
        self, keys: Iterable[str], organization: str | None, list_id: str | None
    ) -> dict[str, Hit]:
        """For the address keys a send to which is stopped, the entry that stops it; a key
        that is not in the result may be sent to."""
        batch = self.prepare(keys)
        return self.decide(batch, self.fetch(batch), organization, list_id)

    def prepare(self, keys: Iterable[str]) -> Batch:
        """Every key this batch bears on: the addresses, the keyed hashes of forgotten
        ones, their domains (`candidate_keys` for thousands at once)."""
        own = set(keys)
        by_hash = self.forgotten(own) if self.forgotten is not None else {}
        domain_of: dict[str, str] = {}
        if self.channel == "email":
            domain_of = {k: k[k.rindex("@") + 1 :] for k in own}
        return Batch(own, by_hash, domain_of)

    def fetch(self, batch: Batch) -> Found:
        """The batch's suppressing entries: two queries at most, domains from memory."""
        if len(self._domains) > MAX_DOMAINS:  # bound memory on odd files
            self._domains.clear()
        domains = set(batch.domain_of.values())
        new_domains = domains.difference(self._domains)
        found = fetch(
            self.engine, {self.channel: batch.own | batch.by_hash.keys(), "domain": new_domains}
        )
        for domain in new_domains:
            self._domains[domain] = found["domain"].get(domain, [])
        known = self._domains
        return Found(found[self.channel], {d: known[d] for d in domains if known[d]})

    def decide(
        self, batch: Batch, found: Found, organization: str | None, list_id: str | None
    ) -> dict[str, Hit]:
        """`ruling` over each key's hits; work is per hit, not per key, beyond finding
        which keys' domains have entries."""
        # Hits in the order the database gave them, the address's own before its keyed
        # hash's or the other way round as they came, then the domain's: `ruling` keeps
        # the first of equally strong entries, so the order is part of the answer.
        hits_of: dict[str, list[Hit]] = defaultdict(list)
        for address, hits in found.own.items():
            hits_of[address if address in batch.own else batch.by_hash[address]].extend(hits)
        if found.domains:
            for key, domain in batch.domain_of.items():
                if domain_hits := found.domains.get(domain):
                    hits_of[key].extend(domain_hits)
        verdicts = {key: ruling(hits, organization, list_id) for key, hits in hits_of.items()}
        return {key: hit for key, hit in verdicts.items() if hit is not None}


# Databases known to hold forgotten entries (their URL), and when each was last found to
# hold none: without the secret key, a lookup there cannot find a forgotten address.
_FORGOTTEN_HELD: set[str] = set()
_FORGOTTEN_NONE_AT: dict[str, float] = {}
_RECHECK_SECONDS = 60.0

SECRET_MISSING = (
    "BOUNCE_WORKER_SECRET_KEY is not set, but forgotten addresses are kept under its keyed "
    "hash: without it a forgotten address would read active; set it and retry"
)


def require_secret(bind: Engine | Connection | Session, secret: str | None) -> None:
    """Refuse (ConfigError, one line) to read states without the secret key once the
    database holds forgotten entries: they would silently read `active`. The answer "none
    held" is remembered for a minute, "some held" for good (nothing un-forgets them).
    `bind`: an engine, or the session of the unit of work asking (on SQLite a second
    connection would wait for that session's write lock)."""
    if secret:
        return
    session = bind if isinstance(bind, Session) else None
    engine = (session.get_bind() if session is not None else bind).engine  # type: ignore[union-attr]
    url = engine.url.render_as_string(hide_password=True)
    if url not in _FORGOTTEN_HELD:
        if time.monotonic() - _FORGOTTEN_NONE_AT.get(url, -_RECHECK_SECONDS) < _RECHECK_SECONDS:
            return
        stmt = select(EntryRow.id).where(FORGOTTEN).limit(1)  # the partial index: a probe
        if session is not None:
            held = session.execute(stmt).first() is not None
        else:
            with engine.connect() as conn:
                held = conn.execute(stmt).first() is not None
        if not held:
            _FORGOTTEN_NONE_AT[url] = time.monotonic()
            return
        _FORGOTTEN_HELD.add(url)
    raise ConfigError(SECRET_MISSING)
