"""VERP addresses that prove what a bounce is about (SPEC 7).

The platform sends each mail with Return-Path `bw1-<mac>-<claim>@<VERP domain>`:

- `<claim>` is base32 (lower case, no padding) of `recipient \\x1f organization \\x1f list`;
  when that would push the local part past 64 characters (RFC 5321 4.5.3.1.1) the
  recipient is left out of the claim and the bounce must name it (it is still bound by the
  MAC: a bounce naming anyone else does not verify).
- `<mac>` is the first 8 bytes of HMAC-SHA256 under BOUNCE_WORKER_VERP_KEY over the
  version, the case-folded recipient, the organization and the list, base32 (13 chars):
  64 bits, against forgers who can only try by sending mail.

Base32 in lower case survives MTAs that fold the case of local parts. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from bounce_worker.domain.addresses import address_key

VERSION = "bw1"
MAX_LOCAL_PART = 64
_SEP = "\x1f"
_MAC_BYTES = 8
_LOCAL_RE = re.compile(r"^bw1-([a-z2-7]{13})-([a-z2-7]*)$")


class VerpError(ValueError):
    """A VERP address that cannot be made (too long, missing organization)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a verified VERP token says: the recipient, organization and list of one send."""

    recipient: str | None  # None: the token left it out (long address); the bounce names it
    organization: str
    list: str | None


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _mac(key: str, recipient: str, organization: str, list_id: str | None) -> str:
    message = _SEP.join((VERSION, address_key(recipient), organization, list_id or ""))
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return _b32(digest[:_MAC_BYTES])


def encode(recipient: str, organization: str, list_id: str | None, *, key: str, domain: str) -> str:
    """The Return-Path address for one send of `recipient` by `organization` (and list)."""
    if not organization:
        raise VerpError("a VERP address needs an organization")
    if _SEP in organization + (list_id or "") + recipient:
        raise VerpError("organization and list must not contain control characters")
    mac = _mac(key, recipient, organization, list_id)
    for carried in (recipient, ""):
        claim = _b32(_SEP.join((carried, organization, list_id or "")).encode())
        local = f"{VERSION}-{mac}-{claim}"
        if len(local) <= MAX_LOCAL_PART:
            return f"{local}@{domain.lower()}"
    raise VerpError(
        f"organization and list are too long for a {MAX_LOCAL_PART}-character local part"
    )


def decode(address: str, *, key: str, domain: str) -> tuple[Claim, str] | None:
    """(claim, mac) for an address on the VERP domain in our format, else None. The MAC is
    not checked here: `verify` does, against the recipient the claim or the bounce names."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if host.lower() != domain.lower():
        return None
    match = _LOCAL_RE.match(local.lower())
    if not match:
        return None
    try:
        fields = _unb32(match.group(2)).decode("utf-8").split(_SEP)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if len(fields) != 3 or not fields[1]:
        return None
    recipient, organization, list_id = fields
    return Claim(recipient or None, organization, list_id or None), match.group(1)


def verify(address: str, named_recipient: str | None, *, key: str, domain: str) -> Claim | None:
    """The claim of a VERP address whose MAC checks out for its recipient (the token's own,
    else `named_recipient` from the bounce), or None: missing, malformed or forged."""
    decoded = decode(address, key=key, domain=domain)
    if decoded is None:
        return None
    claim, mac = decoded
    recipient = claim.recipient or named_recipient
    if not recipient:
        return None
    expected = _mac(key, recipient, claim.organization, claim.list)
    if not hmac.compare_digest(expected, mac):
        return None
    return Claim(recipient, claim.organization, claim.list)
