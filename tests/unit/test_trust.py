"""SPEC 7 in the pure domain: VERP tokens, what unverified or unattributed feedback may
change, the recipient cap and the clock clamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bounce_worker.domain import trust, verp
from bounce_worker.domain.classify import Category, classify
from bounce_worker.domain.events import Event, EventType

KEY, DOMAIN = "test-verp-key", "verp.example.net"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def event(recipient: str = "ann@example.org", **fields: object) -> Event:
    base = dict(
        event_id="e1",
        type=EventType.BOUNCE,
        channel="email",
        recipient=recipient,
        occurred_at=NOW,
        status="5.1.1",
        smtp_code=550,
        organization="from-header",
    )
    return Event(**{**base, **fields})  # type: ignore[arg-type]


def test_token_round_trip_and_local_part_limit() -> None:
    address = verp.encode("Ann@Example.org", "acme", "weekly", key=KEY, domain=DOMAIN)
    local = address.split("@")[0]
    assert len(local) <= 64 and local == local.lower() and address.endswith("@" + DOMAIN)
    claim = verp.verify(
        address.upper().replace(DOMAIN.upper(), DOMAIN), None, key=KEY, domain=DOMAIN
    )
    assert claim == verp.Claim("Ann@Example.org", "acme", "weekly")
    assert verp.verify(address, None, key="another-key", domain=DOMAIN) is None


def test_a_long_recipient_is_bound_not_carried() -> None:
    long = "a-very-long-local-part-of-an-address-" + "x" * 20 + "@subdomain.example.org"
    address = verp.encode(long, "acme", None, key=KEY, domain=DOMAIN)
    assert len(address.split("@")[0]) <= 64
    assert verp.verify(address, None, key=KEY, domain=DOMAIN) is None  # must be named
    assert verp.verify(address, long.upper(), key=KEY, domain=DOMAIN).organization == "acme"
    assert verp.verify(address, "victim@example.org", key=KEY, domain=DOMAIN) is None
    with pytest.raises(verp.VerpError, match="too long"):
        verp.encode("a@b.c", "o" * 40, "l" * 40, key=KEY, domain=DOMAIN)


def test_unverified_and_unattributed_feedback_is_recorded_only() -> None:
    hard = event(verified=False)
    assert trust.admit(hard, classify(hard)) == trust.UNVERIFIED
    complaint = event(type=EventType.COMPLAINT, organization=None, status=None, smtp_code=None)
    assert trust.admit(complaint, classify(complaint)) == trust.UNATTRIBUTED
    global_fact = event(organization=None)
    assert trust.admit(global_fact, classify(global_fact)).category is Category.HARD_BOUNCE
    scoped = event(type=EventType.UNSUBSCRIBE, organization="acme", status=None, smtp_code=None)
    assert trust.admit(scoped, classify(scoped)).category is Category.UNSUBSCRIBE


def test_a_mail_is_attributed_by_its_token_only() -> None:
    victim = event("victim@example.org")
    token = verp.encode("ann@example.org", "acme", "weekly", key=KEY, domain=DOMAIN)
    forged = verp.encode("victim@example.org", "acme", None, key="attacker", domain=DOMAIN)
    # No token, or a token made with another key: unverified, and the header's org dropped.
    for candidates in ([], [forged]):
        (out,) = trust.attribute_mail(
            [victim], candidates, key=KEY, domain=DOMAIN, trusted_source=False
        )
        assert (out.verified, out.organization, out.recipient) == (
            False,
            None,
            "victim@example.org",
        )
    # A valid token decides the recipient, organization and list, whatever the DSN says.
    (out,) = trust.attribute_mail([victim], [token], key=KEY, domain=DOMAIN, trusted_source=False)
    assert (out.verified, out.recipient, out.organization, out.list) == (
        True,
        "ann@example.org",
        "acme",
        "weekly",
    )
    # A trusted mailbox verifies, but never attributes from headers.
    (out,) = trust.attribute_mail([victim], [], key=KEY, domain=DOMAIN, trusted_source=True)
    assert (out.verified, out.organization) == (True, None)


def test_candidates_are_found_anywhere_in_the_mail() -> None:
    token = verp.encode("ann@example.org", "acme", None, key=KEY, domain=DOMAIN)
    raw = f"Return-Path: <{token}>\nTo: x@y\n\nbody {token.upper()}".encode()
    assert [c.lower() for c in trust.verp_candidates(raw, DOMAIN)] == [token]


def test_recipient_cap_and_clock_clamp() -> None:
    many = [event(f"r{i}@example.org") for i in range(101)]
    assert "101 recipients, more than the limit of 100" in trust.too_many_recipients(many, 100)
    assert trust.too_many_recipients(many[:100], 100) is None
    future = event(occurred_at=NOW + timedelta(days=30))
    assert trust.clamp_time(future, NOW, timedelta(minutes=5)).occurred_at == NOW
    near = event(occurred_at=NOW + timedelta(minutes=4))
    assert trust.clamp_time(near, NOW, timedelta(minutes=5)) == near
