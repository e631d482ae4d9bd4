"""API keys: made, listed, revoked and checked. The key is shown once; the database keeps
only its public id and a scrypt hash of its secret part.

A key reads `bwk_<key id>_<secret>`: the key id (12 hex digits) finds the row, the secret
(32 random bytes) is what proves it. scrypt is deliberately slow (tens of milliseconds),
so a stolen table does not give the keys back; to keep that cost off every request, a
process remembers which presented keys it has already verified against which stored hash
(by the presented key's SHA-256, never the key itself).

The hot path (GET /v1/check) must not pay a database read for the key either: a key whose
row was read and verified is remembered as its principal for `cache_seconds`
(BOUNCE_WORKER_API_KEY_CACHE_SECONDS, default 5). Revoking a key therefore takes effect
within that bound in every server process (at once in the process that revoked it);
with 0 the row is read on every request. Once half that time is gone the entry is
`refresh_due`: the server reads the row again in the background (http/v1/identity.py) while
the entry still answers, so a key in steady use never expires on the request path.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import NamedTuple

from sqlalchemy import Engine, bindparam, select

from bounce_worker.domain.identity import Principal, article
from bounce_worker.domain.permissions import Role
from bounce_worker.store.db import reader
from bounce_worker.store.models import ApiKeyRow
from bounce_worker.store.uow import UnitOfWork

PREFIX = "bwk"
# scrypt cost: n=2**14, r=8 (16 MiB, ~50 ms here); p=1. Stored with the hash, so it can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# Roles an organization's key must name its organization for; support and producer may be
# platform-wide (no organization).
NEEDS_ORGANIZATION = frozenset({Role.SENDER, Role.OWNER})


class BadKeyRequest(ValueError):
    """A bad `keys` request (unknown role, missing organization, unknown key id)."""


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # the whole key: shown once, never stored
    principal: Principal


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    name: str
    role: str
    organization: str | None
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None


def _hash(secret: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def _verify(secret: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, _digest = stored.split("$")
        again = _hash(secret, base64.urlsafe_b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(again, stored)


def create(
    engine: Engine,
    *,
    role: str,
    organization: str | None,
    name: str | None,
    now: datetime,
    created_by: str | None = None,
) -> NewKey:
    try:
        parsed = Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise BadKeyRequest(f"unknown role {role!r} (one of {names})") from None
    if organization is not None and not organization.strip():
        # `--organization "$ORG"` with ORG unset made a platform-wide key without a word.
        raise BadKeyRequest(
            "--organization is empty: name the organization, or leave --organization out "
            "for a platform-wide support or producer key"
        )
    organization = (organization or "").strip() or None
    if parsed in NEEDS_ORGANIZATION and organization is None:
        raise BadKeyRequest(f"{article(parsed)} {parsed} key needs --organization")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    label = (name or "").strip() or f"{parsed}@{organization or 'platform'}"
    row = ApiKeyRow(
        key_id=key_id,
        name=label,
        role=str(parsed),
        organization=organization or "",
        secret_hash=_hash(secret, secrets.token_bytes(16)),
        created_at=now,
        created_by=created_by,
    )
    with UnitOfWork(engine) as uow:
        uow.session.add(row)
        uow.commit()
    return NewKey(f"{PREFIX}_{key_id}_{secret}", Principal(key_id, label, parsed, organization))


def listing(engine: Engine, *, include_revoked: bool = True) -> list[KeyInfo]:
    stmt = select(ApiKeyRow).order_by(ApiKeyRow.id)
    if not include_revoked:
        stmt = stmt.where(ApiKeyRow.revoked_at.is_(None))
    with UnitOfWork(engine) as uow:
        return [
            KeyInfo(
                r.key_id,
                r.name,
                r.role,
                r.organization or None,
                r.created_at,
                r.created_by,
                r.revoked_at,
            )
            for r in uow.session.scalars(stmt)
        ]


def revoke(engine: Engine, key_id: str, *, now: datetime) -> KeyInfo:
    """Revoke a key by its id (or by the whole key); revoking twice keeps the first time."""
    key_id = key_id.strip()
    if key_id.startswith(f"{PREFIX}_"):
        key_id = key_id.split("_")[1]
    with UnitOfWork(engine) as uow:
        row = uow.session.scalars(
            select(ApiKeyRow).where(ApiKeyRow.key_id == key_id).with_for_update()
        ).first()
        if row is None:
            raise BadKeyRequest(f"no API key with id {key_id!r} (see `bounce-worker keys list`)")
        if row.revoked_at is None:
            row.revoked_at = now
            uow.commit()
        _RECENT.drop_key(key_id)  # at once here; other processes within their cache_seconds
        info = KeyInfo(
            row.key_id,
            row.name,
            row.role,
            row.organization or None,
            row.created_at,
            row.created_by,
            row.revoked_at,
        )
    return info


class _Verified:
    """SHA-256 of presented keys already checked against a stored hash (bounded, LRU)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[bytes, str] = OrderedDict()
        self._lock = Lock()

    def get(self, fingerprint: bytes) -> str | None:
        with self._lock:
            stored = self._seen.get(fingerprint)
            if stored is not None:
                self._seen.move_to_end(fingerprint)
            return stored

    def put(self, fingerprint: bytes, stored: str) -> None:
        with self._lock:
            self._seen[fingerprint] = stored
            self._seen.move_to_end(fingerprint)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)


_VERIFIED = _Verified()


class Cached(NamedTuple):
    principal: Principal
    refresh_due: bool  # half its time is gone: read the row again (it still answers)


class _Recent:
    """Principals of presented keys read and verified lately, by the key's SHA-256, each
    until its deadline (time.monotonic). Bounded (oldest out first); no lock needed: the
    dict operations used are atomic under the GIL and a lost race only costs a re-read."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        # fingerprint -> (principal, refresh after, deadline)
        self._seen: dict[bytes, tuple[Principal, float, float]] = {}

    def get(self, fingerprint: bytes) -> Cached | None:
        found = self._seen.get(fingerprint)
        if found is None:
            return None
        now = time.monotonic()
        if found[2] < now:
            self._seen.pop(fingerprint, None)
            return None
        return Cached(found[0], found[1] < now)

    def put(self, fingerprint: bytes, principal: Principal, seconds: float) -> None:
        if len(self._seen) >= self.size:
            # (RuntimeError: changed by another thread meanwhile)
            with contextlib.suppress(RuntimeError, StopIteration):
                self._seen.pop(next(iter(self._seen)), None)
        now = time.monotonic()
        self._seen[fingerprint] = (principal, now + seconds / 2, now + seconds)

    def drop(self, fingerprint: bytes) -> None:
        self._seen.pop(fingerprint, None)

    def drop_key(self, key_id: str) -> None:
        for fingerprint, (principal, _, _) in list(self._seen.items()):
            if principal.key_id == key_id:
                self._seen.pop(fingerprint, None)

    def clear(self) -> None:
        self._seen.clear()


_RECENT = _Recent()


def fingerprint(presented: str) -> bytes:
    """What a presented key is remembered by (its SHA-256, never the key itself)."""
    return hashlib.sha256(presented.strip().encode()).digest()


def recent(presented: str) -> Cached | None:
    """The principal of a key this process verified less than `cache_seconds` ago, without
    any I/O, and whether it is due to be read again (None: not known lately; call
    `authenticate`)."""
    return _RECENT.get(fingerprint(presented))


_BY_KEY_ID = select(
    ApiKeyRow.secret_hash,
    ApiKeyRow.name,
    ApiKeyRow.role,
    ApiKeyRow.organization,
    ApiKeyRow.revoked_at,
).where(ApiKeyRow.key_id == bindparam("key_id"))


def authenticate(
    engine: Engine, presented: str, *, cache_seconds: float = 0, reread: bool = False
) -> Principal | None:
    """The principal of a presented key, or None (malformed, unknown, revoked, wrong).
    With `cache_seconds`, a key verified that recently is not read again (see above)
    unless `reread` (the background refresh); a key found revoked or wrong is forgotten."""
    seen_as = fingerprint(presented)
    if cache_seconds > 0 and not reread and (known := _RECENT.get(seen_as)) is not None:
        return known.principal
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    key_id, secret = parts[1], parts[2]
    # One statement, built once, outside a transaction (no BEGIN/ROLLBACK round trips).
    with reader(engine).connect() as conn:
        row = conn.execute(_BY_KEY_ID, {"key_id": key_id}).first()
    if row is None or row.revoked_at is not None:
        _RECENT.drop(seen_as)
        return None
    if _VERIFIED.get(seen_as) != row.secret_hash:
        if not _verify(secret, row.secret_hash):
            _RECENT.drop(seen_as)
            return None
        _VERIFIED.put(seen_as, row.secret_hash)
    principal = Principal(key_id, row.name, Role(row.role), row.organization or None)
    if cache_seconds > 0:
        _RECENT.put(seen_as, principal, cache_seconds)
    return principal
