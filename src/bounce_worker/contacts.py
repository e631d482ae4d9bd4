"""Cross-channel contacts: one person's address and phone, linked by the sending platform's
contact id, and the organization's option that a complaint or an unsubscribe on one channel
suppresses the contact's other channels too (Mapp's cross-channel rule).

- Linking: an event or a manual entry with a `contact_id` and an organization records
  (organization, contact id, channel, address) in `contact_links` (idempotent).
- Spreading: for an organization named in BOUNCE_WORKER_CROSS_CHANNEL_ORGANIZATIONS (`*`: all),
  a verified complaint or unsubscribe yields one derived event per address the contact has
  on another channel: the same type, organization, list and time, its own id
  (`<event id>~<channel>:<address>`, so it is applied once), the source `cross-channel` and a
  diagnostic naming the original. The derived events go through the one writer like any
  other, so every change has its transition; they never spread again.

This runs beside the writer, after the original events were applied (a separate unit of
work: a worker killed in between re-runs it on redelivery, the derived ids keep it once).
An opt-in is not spread: consent is given per channel. Links made after an unsubscribe do
not reach back to it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bounce_worker.domain.addresses import address_key
from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import MAX_ID_LENGTH, Channel, Event
from bounce_worker.domain.policy import PolicySettings
from bounce_worker.domain.trust import admit
from bounce_worker.store.models import ContactLinkRow
from bounce_worker.store.uow import UnitOfWork

log = logging.getLogger("bounce_worker.contacts")

SOURCE = "cross-channel"
# What a derived event does not carry over: the original channel's codes mean nothing on
# the other channel.
_NOT_CARRIED = dict.fromkeys(("gateway_code", "status", "smtp_code"))
SPREADS = frozenset({Category.COMPLAINT, Category.UNSUBSCRIBE})
ALL = "*"

Link = tuple[str, str, str, str]  # organization, contact id, channel, address as displayed


def cross_channel(organization: str | None, organizations: frozenset[str]) -> bool:
    return bool(organization) and (ALL in organizations or organization in organizations)


def link(engine: Engine, links: Iterable[Link], now: datetime) -> int:
    """Record links (existing ones are kept as they are); returns how many were given."""
    rows = [
        {
            "organization": org,
            "contact_id": contact,
            "channel": channel,
            "address": address_key(display),
            "display_address": display,
            "created_at": now,
        }
        for org, contact, channel, display in dict.fromkeys(links)
    ]
    if not rows:
        return 0
    with UnitOfWork(engine) as uow:
        dialect = uow.session.get_bind().dialect.name
        if dialect == "postgresql":
            stmt: Any = pg_insert(ContactLinkRow).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite_insert(ContactLinkRow).on_conflict_do_nothing()
        else:  # pragma: no cover - the two supported databases are above
            stmt = insert(ContactLinkRow)
        uow.session.execute(stmt, rows)
        uow.commit()
    return len(rows)


def link_manual(
    engine: Engine, organization: str | None, contact_id: str | None, target: Any, now: datetime
) -> bool:
    """A manual entry's contact id links its address or phone (a domain has no contact;
    a contact id means something only within an organization)."""
    if not contact_id or not organization or target.channel not in ("email", "sms"):
        return False
    link(
        engine,
        [(organization, contact_id.strip()[:MAX_ID_LENGTH], target.channel, target.display)],
        now,
    )
    return True


def links_of(engine: Engine, channel: str, address: str) -> list[ContactLinkRow]:
    """Every link of every contact that `address` (on `channel`) belongs to, in any
    organization: the address's own links and its contacts' other addresses."""
    key = address_key(address)
    c = ContactLinkRow
    with UnitOfWork(engine) as uow:
        own = uow.session.execute(
            select(c.organization, c.contact_id).where(c.channel == channel, c.address == key)
        ).all()
        if not own:
            return []
        wanted = {(o, i) for o, i in own}
        rows = uow.session.scalars(
            select(c)
            .where(
                c.organization.in_({o for o, _ in wanted}), c.contact_id.in_({i for _, i in wanted})
            )
            .order_by(c.organization, c.contact_id, c.channel, c.display_address)
        ).all()
        uow.session.expunge_all()
    return [r for r in rows if (r.organization, r.contact_id) in wanted]


def derive(engine: Engine, events: Sequence[Event], organizations: frozenset[str]) -> list[Event]:
    """The derived events of the cross-channel rule for `events` (none of their own)."""
    spreading = [
        e
        for e in events
        if e.source != SOURCE
        and cross_channel(e.organization, organizations)
        and admit(e, classify(e)).category in SPREADS
    ]
    if not spreading:
        return []
    c = ContactLinkRow
    derived: list[Event] = []
    with UnitOfWork(engine) as uow:
        for event in spreading:
            org = event.organization or ""
            contacts = (
                {event.contact_id}
                if event.contact_id
                else set(
                    uow.session.scalars(
                        select(c.contact_id).where(
                            c.organization == org,
                            c.channel == str(event.channel),
                            c.address == address_key(event.recipient),
                        )
                    )
                )
            )
            if not contacts:
                continue
            others = uow.session.execute(
                select(c.contact_id, c.channel, c.display_address)
                .where(
                    c.organization == org,
                    c.contact_id.in_(contacts),
                    c.channel != str(event.channel),
                )
                .order_by(c.channel, c.display_address)
            ).all()
            for contact, channel, display in others:
                derived.append(_derived(event, contact, channel, display))
    return list({e.event_id: e for e in derived}.values())


def _derived(event: Event, contact: str, channel: str, display: str) -> Event:
    event_id = f"{event.event_id}~{channel}:{display}"
    if len(event_id) > MAX_ID_LENGTH:
        event_id = "xc:" + hashlib.sha256(event_id.encode()).hexdigest()
    what = "complaint" if str(event.type) == "complaint" else "unsubscribe"
    return replace(
        event,
        event_id=event_id,
        channel=Channel(channel),
        recipient=display,
        source=SOURCE,
        contact_id=contact,
        **_NOT_CARRIED,
        diagnostic=(
            f"cross-channel: {what} on {event.channel} {event.recipient} "
            f"(contact {contact}, event {event.event_id})"
        )[:1000],
    )


def follow(
    engine: Engine,
    events: Sequence[Event],
    *,
    policy: PolicySettings,
    now: datetime,
    organizations: frozenset[str] | None = None,
) -> Counter[Any]:
    """After `events` were applied: record their contact links, then apply the derived
    events of the cross-channel rule. Costs nothing when no event names a contact and no
    organization has the option."""
    from bounce_worker.apply import apply_events
    from bounce_worker.config import settings

    orgs = settings().cross_channel_organizations if organizations is None else organizations
    links = [
        (e.organization, e.contact_id, str(e.channel), e.recipient)
        for e in events
        if e.contact_id and e.organization and e.verified and e.source != SOURCE
    ]
    if links:
        link(engine, links, now)  # type: ignore[arg-type]
    if not orgs:
        return Counter()
    derived = derive(engine, events, orgs)
    if not derived:
        return Counter()
    results = apply_events(engine, derived, policy=policy, now=now)
    log.info(
        "cross-channel: %d derived event(s) from %d",
        len(derived),
        len(events),
        extra={"derived": len(derived)},
    )
    return Counter(results)


def card(
    engine: Engine, channel: str, address: str, *, visible_to: str | None, platform_wide: bool
) -> list[dict[str, Any]]:
    """The contact card's "same person" part: each contact the address belongs to (in the
    organizations the viewer may see) and the contact's addresses on every channel, each
    with its effective state for that organization."""
    from bounce_worker import api

    rows = [
        r
        for r in links_of(engine, channel, address)
        if (platform_wide and visible_to is None) or r.organization == visible_to
    ]
    grouped: dict[tuple[str, str], list[ContactLinkRow]] = {}
    for row in rows:
        grouped.setdefault((row.organization, row.contact_id), []).append(row)
    out = []
    for (org, contact), links in grouped.items():
        addresses = []
        for row in links:
            verdict = api.check(
                row.display_address, channel=row.channel, organization=org, engine=engine
            )
            addresses.append(
                {
                    "channel": row.channel,
                    "address": row.display_address,
                    "state": verdict.state,
                    "reason": verdict.reason,
                    "this": row.channel == channel and row.address == address_key(address),
                }
            )
        out.append(
            {
                "organization": org,
                "contact_id": contact,
                "cross_channel": cross_channel(org, _organizations()),
                "addresses": addresses,
            }
        )
    return out


def _organizations() -> frozenset[str]:
    from bounce_worker.config import settings

    return settings().cross_channel_organizations
