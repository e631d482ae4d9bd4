"""What an operator names: an email address, a whole domain, or a phone number, and the
keyed hash a forgotten address is kept under."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
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


def parse_target(raw: str, channel: str | None = None) -> Target:
    """The one rule for what an argument names, used by every command that takes one (CLI,
    /v1, console): `user@example.org` is an email address, `@example.org` or `example.org`
    a domain, `+4915...` (or digits only) a phone number on the sms channel. `channel`
    (email, sms or domain) overrides the guess."""
    text = raw.strip()
    if not text:
        raise InvalidAddress(f"empty address: {EXPECTED}")
    kind = channel or kind_of(text)
    try:
        return _target(kind, text)
    except InvalidAddress as exc:
        if channel:
            raise
        if kind == "domain":  # no "@" and no "+": it could have been meant as any of them
            raise InvalidAddress(f"not an email address, domain or phone number: "
                                 f"{text[:80]!r} ({EXPECTED})") from None  # fmt: skip
        raise InvalidAddress(f"{exc} ({EXPECTED})") from None


def _target(kind: str, text: str) -> Target:
    if kind == "sms":
        phone = normalize_phone(text)
        return Target("sms", phone, phone)
    if kind == "email":
        email = normalize_email(text)
        return Target("email", email, address_key(email))
    if kind != "domain":
        raise InvalidAddress(f"unknown channel {kind!r}: email, sms or domain")
    domain = normalize_domain(text)
    return Target("domain", domain, domain)


EXPECTED = "give user@example.org, example.org or +4915112345678"


def kind_of(text: str) -> str:
    """email, sms or domain: what `parse_target` takes `text` for, without validating it."""
    text = text.strip()
    if text.startswith("+") or text.replace(" ", "").replace("-", "").isdigit():
        return "sms"
    return "email" if "@" in text.lstrip("@") else "domain"


def forgotten_key(secret: str, channel: str, key: str) -> str:
    """The key an erased address is kept suppressed under: HMAC-SHA256, so nobody without
    the secret can recover the address, yet the same address maps to the same key."""
    return forgotten_hasher(secret, channel)(key)


def forgotten_hasher(secret: str, channel: str) -> Callable[[str], str]:
    """`forgotten_key` for one secret and channel, for hashing many keys in a row."""
    # The keyed state is computed once and copied per key: half the cost of hmac.digest().
    keyed = hmac.new(secret.encode(), f"{channel}:".encode(), "sha256")

    def hashed(key: str) -> str:
        h = keyed.copy()
        h.update(key.encode())
        return FORGOTTEN_PREFIX + h.hexdigest()

    return hashed


def forgotten_matcher(
    secret: str, channel: str, in_use: Iterable[str]
) -> Callable[[Iterable[str]], dict[str, str]]:
    """For an import's millions of keys: those whose `forgotten_key` is among `in_use`
    (the forgotten entries' addresses), as {forgotten key: key}.

    Every key must be hashed, so this is `forgotten_hasher` at half its cost per key: the
    HMAC is built from hashlib's inner and outer states copied directly (an hmac object's
    copy is mostly its Python wrapper), in one loop, comparing raw digests. Tests check
    it finds exactly what `forgotten_key` gives."""
    inner, outer = _hmac_pads(secret.encode(), f"{channel}:".encode())
    start = len(FORGOTTEN_PREFIX)
    wanted = {bytes.fromhex(k[start:]) for k in in_use if _HEX_DIGEST.fullmatch(k, start)}

    def matching(keys: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key in keys:
            h = inner.copy()  # HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m))
            h.update(key.encode())
            o = outer.copy()
            o.update(h.digest())
            if (digest := o.digest()) in wanted:
                found[FORGOTTEN_PREFIX + digest.hex()] = key
        return found

    return matching


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
_HEX_DIGEST = re.compile("[0-9a-f]{64}")  # as hexdigest() writes a SHA-256 digest
