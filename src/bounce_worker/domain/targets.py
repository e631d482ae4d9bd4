"""What an operator names: an email address, a whole domain, or a phone number, and the
keyed hash a forgotten address is kept under."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    inner, outer = _hmac_pads(secret.encode(), f"{channel}:".encode())

    def hashed(key: str) -> str:
        # HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) with both padded states computed
        # once: half the cost of copying an hmac object (whose Python wrapper dominates).
        # tests/unit/test_permissions.py checks it against hmac.new.
        h = inner.copy()
        h.update(key.encode())
        o = outer.copy()
        o.update(h.digest())
        return FORGOTTEN_PREFIX + o.hexdigest()

    return hashed


def _hmac_pads(secret: bytes, prefix: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's inner state (keyed, `prefix` already fed) and outer state (RFC 2104)."""
    if len(secret) > _BLOCK:
        secret = hashlib.sha256(secret).digest()
    block = secret.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    inner.update(prefix)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


_BLOCK = 64  # SHA-256's block size in bytes
