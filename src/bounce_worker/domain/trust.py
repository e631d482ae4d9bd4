"""Trust and attribution (SPEC 7): what a piece of feedback may change, decided from where
it came from. Pure: entry points set `Event.verified` (and the organization only from
verified metadata); the writer asks `admit` before the policy runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bounce_worker.domain import verp
from bounce_worker.domain.addresses import address_key
from bounce_worker.domain.classify import Category, Outcome
from bounce_worker.domain.events import Event

UNVERIFIED = Outcome(Category.RECORDED, "unverified")
UNATTRIBUTED = Outcome(Category.RECORDED, "unattributed")

# Facts about a relationship with one sender: meaningless without knowing the sender.
_SCOPED = frozenset({Category.COMPLAINT, Category.UNSUBSCRIBE, Category.SOFT_BOUNCE})


def admit(event: Event, outcome: Outcome) -> Outcome:
    """The outcome the writer applies: unverified feedback and scoped feedback without an
    organization are recorded (a history row with the evidence) and change no state."""
    if outcome.category is Category.IGNORED:
        return outcome
    if not event.verified:
        return UNVERIFIED
    if event.organization is None and outcome.category in _SCOPED:
        return UNATTRIBUTED
    return outcome


def clamp_time(event: Event, received_at: datetime, skew: timedelta) -> Event:
    """`occurred_at` in the future (beyond the allowed clock skew) becomes the time received:
    a block must not be dated after the fact to outlive its ladder step."""
    if event.occurred_at > received_at + skew:
        return replace(event, occurred_at=received_at)
    return event


def verp_candidates(raw: bytes, domain: str) -> list[str]:
    """Every address in our VERP format on `domain` anywhere in a raw mail (the bounce's own
    To/Delivered-To, the returned original's Return-Path, a quoted header...). Where it sits
    does not matter: only a token whose MAC verifies counts."""
    pattern = re.compile(
        rb"bw1-[a-z2-7]{13}-[a-z2-7]*@" + re.escape(domain.encode()), re.IGNORECASE
    )
    return list(dict.fromkeys(m.group(0).decode("ascii").lower() for m in pattern.finditer(raw)))


def attribute_mail(
    events: Sequence[Event],
    candidates: Sequence[str],
    *,
    key: str | None,
    domain: str | None,
    trusted_source: bool,
) -> list[Event]:
    """Trust and attribution of the events of one raw mail (SPEC 7).

    An event whose recipient a verified VERP token names is verified, with the token's
    organization and list. When the mail carries one verified token naming its recipient
    and no event matches it, the first event is about the token's recipient, whatever the
    mail says. Everything else is unverified (or verified without an organization, from a
    trusted source); its organization and list are dropped: the mail's headers are written
    by whoever sent it.
    """
    claims: dict[str, verp.Claim] = {}
    bound: list[str] = []  # tokens that leave the recipient to the bounce
    if key and domain:
        for address in candidates:
            decoded = verp.decode(address, key=key, domain=domain)
            if decoded is None:
                continue
            if decoded[0].recipient is None:
                bound.append(address)
                continue
            claim = verp.verify(address, None, key=key, domain=domain)
            if claim is not None and claim.recipient:
                claims.setdefault(address_key(claim.recipient), claim)
    out: list[Event] = []
    matched = False
    for event in events:
        claim = claims.get(address_key(event.recipient))
        if claim is None and key and domain:
            for address in bound:
                claim = verp.verify(address, event.recipient, key=key, domain=domain)
                if claim is not None:
                    break
        if claim is not None:
            matched = True
            out.append(_claimed(event, claim, event.recipient))
        else:
            # Its own event id: an unverified copy must not make the verified one (the same
            # bounce, delivered to its VERP address) a duplicate.
            event_id = event.event_id if trusted_source else f"{event.event_id}:unverified"
            out.append(
                replace(
                    event,
                    event_id=event_id[:255],
                    organization=None,
                    list=None,
                    verified=trusted_source,
                )
            )
    if not matched and len(claims) == 1 and out:
        claim = next(iter(claims.values()))
        out[0] = _claimed(events[0], claim, claim.recipient or events[0].recipient)
    return out


def _claimed(event: Event, claim: verp.Claim, recipient: str) -> Event:
    return replace(
        event,
        recipient=recipient,
        organization=claim.organization,
        list=claim.list,
        verified=True,
    )


def too_many_recipients(events: Sequence[Event], cap: int) -> str | None:
    """The dead-letter reason for a mail naming more distinct recipients than `cap`."""
    count = len({address_key(e.recipient) for e in events})
    if count > cap:
        return f"mail names {count} recipients, more than the limit of {cap}"
    return None
