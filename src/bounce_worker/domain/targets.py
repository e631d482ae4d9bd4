"""What an operator names: an email address, a whole domain, or a phone number, and the
keyed hash a forgotten address is kept under."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from bounce_worker.domain.addresses import (
    InvalidAddress,
    address_key,
    normalize_domain,
    normalize_email,
    normalize_phone,
)

FORGOTTEN_PREFIX = "hmac:"


@dataclass(frozen=True, slots=True)
class Target:
    channel: str  # email, sms, or domain
    display: str  # normalized, as given
    key: str  # case-folded: the entries' address column


def parse_target(raw: str) -> Target:
    """`user@example.org` (email), `@example.org` or `example.org` (domain), `+4915...` (sms)."""
    text = raw.strip()
    if not text:
        raise InvalidAddress("empty address")
    if text.startswith("+") or text.replace(" ", "").replace("-", "").isdigit():
        phone = normalize_phone(text)
        return Target("sms", phone, phone)
    if "@" in text.lstrip("@"):
        email = normalize_email(text)
        return Target("email", email, address_key(email))
    domain = normalize_domain(text)
    return Target("domain", domain, domain)


def forgotten_key(secret: str, channel: str, key: str) -> str:
    """The key an erased address is kept suppressed under: HMAC-SHA256, so nobody without
    the secret can recover the address, yet the same address maps to the same key."""
    return forgotten_hasher(secret, channel)(key)


def forgotten_hasher(secret: str, channel: str) -> Callable[[str], str]:
    """`forgotten_key` for one secret and channel, for hashing millions of keys in a row."""
    # The keyed state is computed once and copied per key: half the cost of hmac.digest().
    keyed = hmac.new(secret.encode(), f"{channel}:".encode(), "sha256")

    def hashed(key: str) -> str:
        h = keyed.copy()
        h.update(key.encode())
        return FORGOTTEN_PREFIX + h.hexdigest()

    return hashed
