"""Address normalization (SPEC section 2): the key every entry is stored under."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import phonenumbers

if TYPE_CHECKING:
    from bounce_worker.domain.events import Channel

MAX_ADDRESS_LENGTH = 320  # longest text handed to flanker at all (display-name forms too)
# What an SMTP server must accept and nothing may exceed (RFC 5321 4.5.3.1.1: a local part
# of 64 octets; 4.5.3.1.3: a path of 256 octets with its angle brackets, so an address of
# 254, RFC 3696 errata 1690). flanker took a 300-character local part; such an address can
# never be mailed, so it is bad input (SPEC 2 and 6), not a key to store.
MAX_LOCAL_PART_OCTETS = 64
MAX_ADDRESS_OCTETS = 254

# The plain addresses that are nearly every real one: a dot-atom local part of at most 64
# characters and an ASCII host name (no IDNA "xn--" labels). For these flanker's answer is
# known, so they skip its ~40-80 us parser (import checks normalize millions). Anything
# else goes to flanker; tests/unit/test_fast_email.py checks both paths agree.
# ASCII only, spelled without re.IGNORECASE: under it [A-Za-z] also matched U+0130, U+0131,
# U+017F and the Kelvin sign, letting host names flanker rejects or IDNA-encodes through.
# Possessive quantifiers (each label ends at its dot, so nothing is given back) and the
# labels' length as a lookahead halve the match time.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]++"
_LABEL = r"(?![Xx][Nn]--)(?=[A-Za-z0-9-]{1,63}\.)[A-Za-z0-9]++(?:-++[A-Za-z0-9]++)*+"
_PLAIN = re.compile(
    rf"(?P<local>(?=[^@]{{1,64}}@){_ATEXT}(?:\.{_ATEXT})*+)"
    rf"@(?P<domain>(?:{_LABEL}\.)++[A-Za-z]{{2,63}})"
)


class InvalidAddress(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """Domain lower-cased and IDNA-encoded, local part kept as given.

    Comparison is case-insensitive on the local part too (SPEC 2); the store keys on
    `address_key()`, which folds the case, so the original spelling stays readable.
    """
    text = raw.strip()
    plain = _plain(text)
    return plain if plain is not None else _normalize_email_slow(raw, text)


def plain_address(raw: str) -> str | None:
    """`normalize_email(raw)` when `raw` is a plain address (the fast path: `_PLAIN`), else
    None: the caller then goes the general way (event construction, parsers/_common.py)."""
    return _plain(raw.strip())


def _plain(text: str) -> str | None:
    plain = _PLAIN.fullmatch(text) if len(text) <= MAX_ADDRESS_OCTETS else None
    return f"{plain['local']}@{plain['domain'].lower()}" if plain else None


def email_key(raw: str) -> str:
    """`address_key(normalize_email(raw))` without building the normalized form: a plain
    address's key is its text folded (an import check needs only keys, millions of them)."""
    text = raw.strip()
    if len(text) <= 254 and _PLAIN.fullmatch(text):
        return text.lower()
    return address_key(_normalize_email_slow(raw, text))


def _normalize_email_slow(raw: str, text: str) -> str:
    if "@" not in text:  # nothing flanker could read as an address: skip its slow parse
        raise InvalidAddress(f"invalid email address: {raw[:80]!r}")
    return normalize_email_flanker(raw)


def normalize_email_flanker(raw: str) -> str:
    """The general path: any RFC 5322 form flanker understands (and the fast path's oracle),
    within RFC 5321's lengths (MAX_LOCAL_PART_OCTETS, MAX_ADDRESS_OCTETS; the fast path's
    pattern admits nothing longer)."""
    # Imported here: flanker builds its grammar on import (~0.5 s), which every CLI call
    # would pay although plain addresses never reach this path.
    from flanker.addresslib import address as flanker_address

    text = raw.strip()
    if not text or len(text) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(f"invalid email address: {raw[:80]!r}")
    parsed = flanker_address.parse(text, addr_spec_only=True)
    if parsed is None:
        parsed = flanker_address.parse(text)  # "Name <user@host>" forms
    if parsed is None or not isinstance(parsed, flanker_address.EmailAddress):
        raise InvalidAddress(f"invalid email address: {raw[:80]!r}")
    domain = parsed.hostname.rstrip(".").lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress(f"invalid email domain: {raw[:80]!r}") from None
    if "." not in domain:
        raise InvalidAddress(f"email domain has no dot: {raw[:80]!r}")
    address = f"{parsed.mailbox}@{domain}"
    if len(parsed.mailbox.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise InvalidAddress(
            f"email local part longer than {MAX_LOCAL_PART_OCTETS} octets (RFC 5321): "
            f"{raw[:80]!r}"
        )
    if len(address.encode("utf-8")) > MAX_ADDRESS_OCTETS:
        raise InvalidAddress(
            f"email address longer than {MAX_ADDRESS_OCTETS} octets (RFC 5321): {raw[:80]!r}"
        )
    return address


def normalize_domain(raw: str) -> str:
    """`example.org`, `@example.org` or `EXAMPLE.org.` -> `example.org` (IDNA)."""
    domain = raw.strip().lstrip("@").rstrip(".").lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress(f"invalid domain: {raw[:80]!r}") from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels) or any(c in domain for c in " @<>,;"):
        raise InvalidAddress(f"invalid domain: {raw[:80]!r}")
    return domain


def normalize_phone(raw: str) -> str:
    """E.164 (`+4915112345678`). Numbers must carry their country code."""
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException:
        raise InvalidAddress(
            f"invalid phone number (E.164 with +country code): {raw[:40]!r}"
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidAddress(f"impossible phone number: {raw[:40]!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Bounce bursts repeat the same recipients; flanker's parser costs ~200 us per call, most of
# an event's decode time. Pure, so a bounded per-process memo is safe (errors are not cached).
@lru_cache(maxsize=65536)
def normalize_recipient(raw: str, channel: Channel | str) -> str:
    return normalize_phone(raw) if str(channel) == "sms" else normalize_email(raw)


def address_key(address: str) -> str:
    """The case-folded form entries are keyed and compared by."""
    return address.lower()


def domain_of(address: str) -> str | None:
    return address.rpartition("@")[2] or None if "@" in address else None
