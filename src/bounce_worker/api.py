"""The Python API for sending platforms: "may I send to this address, and if not, why?"."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine, select

from bounce_worker import contacts, erasure, lookup, operations
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain.addresses import (
    InvalidAddress,
    address_key,
    normalize_domain,
    normalize_recipient,
)
from bounce_worker.domain.effective import applies, ruling
from bounce_worker.domain.events import format_instant
from bounce_worker.domain.permissions import Refused, Role
from bounce_worker.domain.policy import Scope, State
from bounce_worker.domain.targets import forgotten_hasher, parse_target
from bounce_worker.store.db import get_engine
from bounce_worker.store.models import EntryRow, TransitionRow
from bounce_worker.store.uow import UnitOfWork

__all__ = [
    "InvalidAddress",
    "Refused",
    "Role",
    "Verdict",
    "check",
    "check_many",
    "delete",
    "forget",
    "history",
    "lift",
    "restore",
    "suppress",
    "suppressions",
]


@dataclass
class Verdict:
    address: str
    channel: str
    state: str
    reason: str | None
    blocked_until: str | None
    temporary_block_count: int
    entries: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def may_send(self) -> bool:
        return self.state == State.ACTIVE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"may_send": self.may_send}


def check(
    address: str,
    *,
    channel: str = "email",
    organization: str | None = None,
    list: str | None = None,
    engine: Engine | None = None,
) -> Verdict:
    """The effective state for a send to `address` by `organization` (and its `list`):
    the strongest of the global, organization, list and domain entries that apply.
    channel="domain" asks about a whole domain (`example.org`): its own entries only."""
    engine = engine or get_engine(settings().database_url)
    display = (
        normalize_domain(address) if channel == "domain" else normalize_recipient(address, channel)
    )
    with UnitOfWork(engine) as uow:
        rows = [r for r in _entries(uow, channel, display) if applies(r, organization, list)]
        transitions = uow.transitions_for([r.id for r in rows]) if rows else []
    lists = [h for h in robinson_of(engine, channel, display) if applies(h, organization, list)]
    ruler = ruling([*rows, *lists], organization, list)
    global_row = next((r for r in rows if r.channel == channel and r.scope == Scope.GLOBAL), None)
    state = ruler.state if ruler else State.ACTIVE
    return Verdict(
        address=display,
        channel=channel,
        state=str(state),
        reason=ruler.reason if ruler and state != State.ACTIVE else None,
        blocked_until=format_instant(ruler.blocked_until)
        if ruler and state == State.TEMPORARILY_BLOCKED
        else None,
        temporary_block_count=global_row.temp_block_count if global_row else 0,
        entries=[entry_dict(r) for r in rows] + [robinson_dict(h) for h in lists],
        transitions=_history_dicts(rows, transitions),
    )


def robinson_of(engine: Engine, channel: str, display: str) -> list[lookup.Hit]:
    """The Robinson lists (robinson.py) holding an address, in every organization."""
    key = address_key(display)
    return lookup.robinson_hits(engine, channel, [key]).get(key, [])


def robinson_dict(hit: lookup.Hit) -> dict[str, Any]:
    """A Robinson list's hit, shaped like an entry of the contact card (scope `robinson`,
    the list's name as `list`); not an entry: nothing to lift, the list's next import
    replaces it."""
    return {
        "channel": hit.channel,
        "address": hit.address,
        "scope": hit.scope,
        "organization": hit.organization or None,
        "list": hit.list,
        "state": hit.state,
        "reason": hit.reason,
        "blocked_until": None,
        "temporary_block_count": 0,
        "soft_bounce_count": 0,
        "deleted": False,
        "updated_at": None,
    }


def check_fast(
    address: str,
    *,
    channel: str = "email",
    organization: str | None = None,
    list: str | None = None,
    engine: Engine | None = None,
) -> tuple[Verdict, lookup.Hit | None]:
    """`check` without the history, and the entry that rules (None: nothing stops the
    send): one query over the address, its forgotten hash and its domain. The hot path
    of GET /v1/check."""
    engine = engine or get_engine(settings().database_url)
    display, keys = _fast_keys(address, channel, engine)
    hit = ruling(lookup.fetch_few(engine, keys), organization, list)
    return _verdict(display, channel, hit, None), hit


async def check_fast_async(
    address: str,
    *,
    channel: str = "email",
    organization: str | None = None,
    list: str | None = None,
    engine: Engine | None = None,
) -> tuple[Verdict, lookup.Hit | None]:
    """`check_fast` with its read awaited on the event loop (GET /v1/check's fast path)."""
    engine = engine or get_engine(settings().database_url)
    display, keys = _fast_keys(address, channel, engine)
    hit = ruling(await lookup.fetch_few_async(engine, keys), organization, list)
    return _verdict(display, channel, hit, None), hit


def _fast_keys(address: str, channel: str, engine: Engine) -> tuple[str, list[tuple[str, str]]]:
    display = normalize_recipient(address, channel)
    secret = settings().secret_key
    lookup.require_secret(engine, secret)  # an index probe, at most once a minute
    hashed = forgotten_hasher(secret, channel) if secret else None
    return display, lookup.candidate_keys(channel, address_key(display), hashed)


def _entries(uow: UnitOfWork, channel: str, display: str) -> list[EntryRow]:
    """Every entry that may bear on `display`: its own, its forgotten hash's, its domain's."""
    if channel == "domain":
        return list(uow.entries_for("domain", display))
    secret = settings().secret_key
    lookup.require_secret(uow.session, secret)
    hashed = forgotten_hasher(secret, channel) if secret else None
    pairs = lookup.candidate_keys(channel, address_key(display), hashed)
    return [row for ch, key in pairs for row in uow.entries_for(ch, key)]


def contact_entries(
    address: str, *, channel: str = "email", engine: Engine | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every entry bearing on `address` in every organization, and their history (the
    platform operator's view of a contact card)."""
    engine = engine or get_engine(settings().database_url)
    display = normalize_recipient(address, channel)
    with UnitOfWork(engine) as uow:
        rows = _entries(uow, channel, display)
        transitions = uow.transitions_for([r.id for r in rows]) if rows else []
    lists = robinson_of(engine, channel, display)
    return {
        "entries": [entry_dict(r) for r in rows] + [robinson_dict(h) for h in lists],
        "transitions": _history_dicts(rows, transitions),
    }


def _history_dicts(rows: list[EntryRow], transitions: list[TransitionRow]) -> list[dict[str, Any]]:
    by_id = {r.id: r for r in rows}
    return [
        {
            "scope": by_id[t.entry_id].scope,
            "organization": by_id[t.entry_id].organization or None,
            "list": by_id[t.entry_id].list or None,
            "from": t.from_state,
            "to": t.to_state,
            "reason": t.reason,
            "occurred_at": format_instant(t.occurred_at),
            "diagnostic": t.diagnostic,
            "detail": t.detail,  # the fine reason of a bounce (docs/classification.md)
            "event_id": t.event_id,
            "actor": t.actor,
            "note": t.note,
        }
        for t in transitions
    ]


def history(
    address: str,
    *,
    channel: str = "email",
    organization: str | None = None,
    engine: Engine | None = None,
) -> list[dict[str, Any]]:
    """Every transition of every entry bearing on `address` (all scopes, or only those
    that apply to `organization`), oldest first: "why is this contact suppressed?"."""
    engine = engine or get_engine(settings().database_url)
    display = normalize_recipient(address, channel)
    with UnitOfWork(engine) as uow:
        rows = [
            r
            for r in _entries(uow, channel, display)
            if organization is None or r.scope == Scope.GLOBAL or r.organization == organization
        ]
        return _history_dicts(rows, uow.transitions_for([r.id for r in rows]) if rows else [])


def check_many(
    addresses: Iterable[str],
    *,
    channel: str = "email",
    organization: str | None = None,
    list: str | None = None,
    engine: Engine | None = None,
) -> list[Verdict]:
    """`check` for many addresses, in input order (no history): on PostgreSQL one query
    per 10,000 (the addresses, their forgotten hashes and their domains together), on
    SQLite a few per 5,000. An address that does not parse gets state "invalid" and the
    error as its reason."""
    engine = engine or get_engine(settings().database_url)
    chunk = lookup.PG_CHUNK if engine.dialect.name == "postgresql" else lookup.CHUNK
    bulk = lookup.Lookup(engine, channel, settings().secret_key)
    out: list[Verdict] = []
    batch: list[tuple[str, str | None]] = []  # (display or raw, error)

    def flush() -> None:
        keys = [address_key(d) for d, err in batch if err is None]
        found = bulk.rulings(keys, organization, list)
        for display, err in batch:
            hit = None if err else found.get(address_key(display))
            out.append(_verdict(display, channel, hit, err))
        batch.clear()

    for raw in addresses:
        try:
            batch.append((normalize_recipient(raw, channel), None))
        except InvalidAddress as exc:
            batch.append((raw, str(exc)))
        if len(batch) >= chunk:
            flush()
    flush()
    return out


def _verdict(display: str, channel: str, hit: lookup.Hit | None, error: str | None) -> Verdict:
    if error:
        return Verdict(display, channel, "invalid", error, None, 0)
    if hit is None:
        return Verdict(display, channel, str(State.ACTIVE), None, None, 0)
    until = hit.blocked_until if hit.state == State.TEMPORARILY_BLOCKED else None
    return Verdict(display, channel, hit.state, hit.reason, format_instant(until), 0)


def entry_dict(row: EntryRow) -> dict[str, Any]:
    return {
        "channel": row.channel,
        "address": row.display_address,
        "scope": row.scope,
        "organization": row.organization or None,
        "list": row.list or None,
        "state": row.state,
        "reason": row.reason,
        "blocked_until": format_instant(row.blocked_until),
        "temporary_block_count": row.temp_block_count,
        "soft_bounce_count": row.soft_bounce_count,
        "deleted": row.deleted_at is not None,
        "updated_at": format_instant(row.updated_at),
    }


def suppressions(
    *, engine: Engine | None = None, organization: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Entries that stop a send (any state but active), newest change first. Deleted
    entries are left out (they are still enforced)."""
    engine = engine or get_engine(settings().database_url)
    stmt = select(EntryRow).where(EntryRow.state != State.ACTIVE, EntryRow.deleted_at.is_(None))
    if organization is not None:
        stmt = stmt.where(EntryRow.organization == organization)
    stmt = stmt.order_by(EntryRow.updated_at.desc(), EntryRow.id.desc()).limit(limit)
    with UnitOfWork(engine) as uow:
        return [entry_dict(row) for row in uow.session.scalars(stmt)]


# -- operator actions ----------------------------------------------------------------------
# Same keywords for all four: the entry (target, scope, organization, list), who acts
# (actor, role) and why (reason, required). Each raises `Refused` with the reason why when
# the role may not do it, and returns an `operations.Change`.


def suppress(
    target: str,
    *,
    state: str = "blacklisted",
    scope: str = "organization",
    organization: str | None = None,
    list: str | None = None,
    reason: str,
    actor: str,
    role: str = "support",
    engine: Engine | None = None,
    now: datetime | None = None,
    contact_id: str | None = None,
) -> operations.Change:
    """A manual entry for an address, a domain (`@example.org`) or a phone number (E.164).
    It raises the state and never weakens one. An owner adds blacklisted entries of their
    own organization; support adds anything. `contact_id` (with an organization) links the
    address to that contact's addresses on other channels."""
    add = partial(operations.suppress, state=State(state))
    change = _act(add, target, scope, organization, list, reason, actor, role, engine, now)
    if contact_id:  # links the address to the contact's others (bounce_worker.contacts)
        contacts.link_manual(
            engine or get_engine(settings().database_url),
            organization,
            contact_id,
            parse_target(target),
            now or utcnow(),
        )
    return change


def _entry_action(
    action: Callable[..., operations.Change], doc: str
) -> Callable[..., operations.Change]:
    """lift, delete and restore: the same keywords, one operations function each."""

    def act(
        target: str,
        *,
        scope: str = "organization",
        organization: str | None = None,
        list: str | None = None,
        reason: str,
        actor: str,
        role: str = "owner",
        engine: Engine | None = None,
        now: datetime | None = None,
    ) -> operations.Change:
        return _act(action, target, scope, organization, list, reason, actor, role, engine, now)

    act.__name__ = act.__qualname__ = action.__name__
    act.__doc__ = doc
    return act


lift = _entry_action(
    operations.lift,
    """Back to active. An owner lifts blacklisted entries of their organization; blocked,
    temporarily blocked and global entries need role="support".""",
)
delete = _entry_action(
    operations.delete,
    "Hide an entry from listings and exports; it stays enforced (re-imports are caught).",
)
restore = _entry_action(
    operations.restore, "Undo `delete`: the entry shows in listings and exports again."
)


def _act(
    action: Callable[..., operations.Change],
    target: str,
    scope: str,
    organization: str | None,
    list: str | None,
    reason: str,
    actor: str,
    role: str,
    engine: Engine | None,
    now: datetime | None,
) -> operations.Change:
    req = operations.Request(
        parse_target(target), Scope(scope), organization, list, actor, reason, Role(role)
    )
    return action(
        engine or get_engine(settings().database_url),
        req,
        now=now or utcnow(),
        secret=settings().secret_key,
    )


def forget(
    address: str, *, actor: str, engine: Engine | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Erase what is stored about `address`, keeping it suppressed under a keyed hash
    (needs BOUNCE_WORKER_SECRET_KEY). Returns counts of what was erased, by kind."""
    done = erasure.forget(
        engine or get_engine(settings().database_url),
        parse_target(address),
        actor=actor,
        now=now or utcnow(),
        secret=settings().secret_key,
    )
    return dict(done)


def verp_address(recipient: str, organization: str, list: str | None = None) -> str:
    """The Return-Path to send one mail to `recipient` with, for `organization` (and
    list): a bounce to it is verified and attributed by its token (SPEC 7, docs/intake.md).
    Needs BOUNCE_WORKER_VERP_DOMAIN and BOUNCE_WORKER_VERP_KEY; raises ValueError (VerpError,
    InvalidAddress) with a one-line reason."""
    from bounce_worker.domain import verp
    from bounce_worker.domain.addresses import normalize_email

    intake = settings().intake
    if not intake.verp_domain or not intake.verp_key:
        raise verp.VerpError("set BOUNCE_WORKER_VERP_DOMAIN and BOUNCE_WORKER_VERP_KEY first")
    return verp.encode(
        normalize_email(recipient), organization, list, key=intake.verp_key,
        domain=intake.verp_domain,
    )  # fmt: skip
