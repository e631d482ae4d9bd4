"""`forget`: erase what is stored about a person, yet keep them suppressed.

Entries move from the address to its keyed hash (HMAC-SHA256 with BOUNCE_WORKER_SECRET_KEY)
and lose their display address, so the address cannot be read back, but a later check or
import of the same address computes the same hash and is still caught. Everything else
that holds the address is erased: event payloads, diagnostics and notes that quote it,
delivery facts, dead-letter payloads, the audit log's target. Transitions stay (with the text
blanked), so "why is this contact suppressed?" is still answered.

The address is looked for in every form it may have been stored in (`needles`): any case,
its domain as IDNA and as Unicode, a phone number with and without its "+", JSON-escaped.
Dead letters are bytes as received, so each is also decoded before it is searched
(`decoded_texts`): JSON escapes, quoted-printable, RFC 2047 encoded words, and base64 runs,
down to a few layers (a Celery message holding a base64 mail holding a base64 part). Event
ids that carry the address (some providers build them from it) are rewritten to a keyed
hash of themselves, in processed_events and in transitions alike.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine, delete, select, update

from bounce_worker import limits
from bounce_worker.apply import record_transition
from bounce_worker.config import ConfigError
from bounce_worker.domain.permissions import Refused
from bounce_worker.domain.policy import STRENGTH, State
from bounce_worker.domain.targets import Target, forgotten_key
from bounce_worker.store.models import (
    AuditRow,
    ContactLinkRow,
    DeadLetterRow,
    DeliveryRow,
    EntryRow,
    ProcessedEventRow,
    TransitionRow,
)
from bounce_worker.store.uow import EntryKey, UnitOfWork
from bounce_worker.store.writer import to_entry, write_entry

ERASED = "erased on request"


def forget(
    engine: Engine, target: Target, *, actor: str, now: datetime, secret: str | None
) -> Counter[str]:
    """Erase `target`'s personal data in one transaction; returns what was done, by kind."""
    if not secret:
        raise ConfigError("BOUNCE_WORKER_SECRET_KEY is not set: forget needs it to keep the "
                          "address suppressed under a keyed hash")  # fmt: skip
    if target.channel == "domain":
        raise Refused("forget takes an email address or a phone number, not a domain")
    if not actor.strip():
        raise Refused("--actor must name the person acting")
    hashed = forgotten_key(secret, target.channel, target.key)
    done: Counter[str] = Counter()
    with UnitOfWork(engine) as uow:
        for row in uow.entries_for(target.channel, target.key):
            kept = _move(uow, row, hashed, now)
            record_transition(
                uow, kept, kept.state, kept.state, "forgotten", occurred_at=now, now=now,
                actor=actor,
            )  # fmt: skip
            done["entries kept under a keyed hash"] += 1
        forms = needles(target.channel, target.key)
        _erase_text(uow, forms, done)
        _rewrite_event_ids(uow, forms, secret, done)
        done["delivery facts deleted"] += uow.session.execute(
            delete(DeliveryRow).where(
                DeliveryRow.channel == target.channel, DeliveryRow.address == target.key
            )
        ).rowcount
        _erase_dead_letters(uow, forms, done)
        _erase_audit_targets(uow, forms, hashed, done)
        # The address leaves every contact it was linked to (bounce_worker.contacts).
        done["contact links deleted"] += uow.session.execute(
            delete(ContactLinkRow).where(
                ContactLinkRow.channel == target.channel, ContactLinkRow.address == target.key
            )
        ).rowcount
        uow.commit()
    return done


def _move(uow: UnitOfWork, row: EntryRow, hashed: str, now: datetime) -> EntryRow:
    """Re-key the entry; if the hash already has one for this scope (forgotten before and
    suppressed again since), merge into it: the stronger state and all the history."""
    key = EntryKey(row.channel, hashed, row.scope, row.organization, row.list)
    existing = uow.find_entry(key, for_update=True)
    if existing is None:
        row.address, row.display_address, row.updated_at = hashed, "", now
        return row
    if STRENGTH[State(row.state)] > STRENGTH[State(existing.state)]:
        write_entry(existing, to_entry(row), now)
    uow.session.execute(
        update(TransitionRow).where(TransitionRow.entry_id == row.id).values(entry_id=existing.id)
    )
    uow.session.delete(row)
    return existing


def needles(channel: str, key: str) -> list[str]:
    """Every lower-cased form of the address that stored text may hold."""
    forms = {key.lower()}
    if channel == "email":
        local, _, domain = key.lower().rpartition("@")
        with contextlib.suppress(UnicodeError):  # its domain in xn-- form, as Unicode
            forms.add(f"{local}@{domain.encode('ascii').decode('idna')}")
    else:  # E.164: gateways write it without the "+", or with 00
        digits = key.lstrip("+")
        forms |= {digits, "00" + digits}
    forms |= {json.dumps(f)[1:-1].lower() for f in forms}  # \u escapes of non-ASCII
    return sorted(forms)


def _erase_text(uow: UnitOfWork, forms: list[str], done: Counter[str]) -> None:
    for column in (TransitionRow.diagnostic, TransitionRow.note):
        for form in forms:
            done["transition texts blanked"] += uow.session.execute(
                update(TransitionRow)
                .where(column.icontains(form, autoescape=True))
                .values({column.key: ERASED})
            ).rowcount
    for form in forms:
        done["event payloads erased"] += uow.session.execute(
            update(ProcessedEventRow)
            .where(ProcessedEventRow.payload.icontains(form, autoescape=True))
            .values(payload=None)
        ).rowcount


def forgotten_event_id(secret: str, event_id: str) -> str:
    """An event id that carried an address, as kept after erasure: a keyed hash of it (the
    same in processed_events and transitions, so they still correspond)."""
    digest = hmac.new(secret.encode(), b"event-id:" + event_id.encode(), hashlib.sha256)
    return "forgotten:" + digest.hexdigest()[:40]


def _rewrite_event_ids(uow: UnitOfWork, forms: list[str], secret: str, done: Counter[str]) -> None:
    ids: set[str] = set()
    for form in forms:
        ids.update(
            uow.session.scalars(
                select(ProcessedEventRow.event_id).where(
                    ProcessedEventRow.event_id.icontains(form, autoescape=True)
                )
            )
        )
        ids.update(
            i
            for i in uow.session.scalars(
                select(TransitionRow.event_id).where(
                    TransitionRow.event_id.icontains(form, autoescape=True)
                )
            )
            if i
        )
    for old in sorted(ids):
        new = forgotten_event_id(secret, old)
        uow.session.execute(
            update(ProcessedEventRow).where(ProcessedEventRow.event_id == old).values(event_id=new)
        )
        uow.session.execute(
            update(TransitionRow).where(TransitionRow.event_id == old).values(event_id=new)
        )
        done["event ids rewritten"] += 1


def _erase_audit_targets(
    uow: UnitOfWork, forms: list[str], hashed: str, done: Counter[str]
) -> None:
    # The audit log is never updated, except here: it keeps who did what, to the keyed hash.
    for form in forms:
        done["audit targets hashed"] += uow.session.execute(
            update(AuditRow).where(AuditRow.target.icontains(form, autoescape=True))
            .values(target=hashed)
        ).rowcount  # fmt: skip
        uow.session.execute(
            update(AuditRow).where(AuditRow.reason.icontains(form, autoescape=True))
            .values(reason=ERASED)
        )  # fmt: skip
        uow.session.execute(
            update(AuditRow).where(AuditRow.detail.icontains(form, autoescape=True))
            .values(detail=ERASED)
        )  # fmt: skip


# A run of base64 (line breaks allowed, as MIME writes it; "\n" as JSON writes it).
_B64_RUN = re.compile(rb"(?:[A-Za-z0-9+/]|\\n|\r?\n){24,}={0,2}")
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\(.)")
_MAX_LAYERS = 4


def decoded_texts(data: bytes, layer: int = 0) -> Iterator[str]:
    """`data` as text, and as each decoding of it may read: JSON escapes, quoted-printable,
    RFC 2047 encoded words, and base64 runs decoded in turn (up to `_MAX_LAYERS` deep)."""
    from bounce_worker.parsers.mime import decode_words

    text = data.decode("utf-8", "replace")
    yield text
    unescaped = _json_unescape(text) if "\\" in text else text
    if unescaped is not text:
        yield unescaped
    if b"=" in data:
        yield binascii.a2b_qp(data).decode("utf-8", "replace")
        if "=?" in unescaped:
            with limits.applied(_UNCAPPED):
                yield decode_words(unescaped)
    if layer >= _MAX_LAYERS:
        return
    source = unescaped.encode("utf-8", "replace") if unescaped is not text else data
    for run in _B64_RUN.finditer(source):
        chunk = run.group().replace(b"\\n", b"")
        for shift in range(4):  # the run may start mid-quantum
            try:
                decoded = binascii.a2b_base64(_padded(chunk[shift:]))
            except binascii.Error:
                continue
            if decoded:
                yield from decoded_texts(decoded, layer + 1)


_UNCAPPED = limits.MailLimits(max_encoded_words=10**9, max_header_bytes=10**12)


def _padded(chunk: bytes) -> bytes:
    body = chunk.translate(None, b"\r\n=")
    body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
    return body + b"=" * (-len(body) % 4)


def _json_unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1), 16))
        return {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(m.group(2), m.group(2))

    return _JSON_ESCAPE.sub(one, text)


def holds(data: bytes, forms: list[str]) -> bool:
    """Whether any decoding of `data` holds any form of the address."""
    return any(form in text.lower() for text in decoded_texts(data) for form in forms)


def _erase_dead_letters(uow: UnitOfWork, forms: list[str], done: Counter[str]) -> None:
    # Payloads are bytes exactly as received (any encoding, any case): searched here, in
    # pages, decoded (decoded_texts), rather than with SQL that differs per database.
    last = 0
    while True:
        page = uow.session.execute(
            select(DeadLetterRow.id, DeadLetterRow.payload, DeadLetterRow.reason)
            .where(DeadLetterRow.id > last)
            .order_by(DeadLetterRow.id)
            .limit(1000)
        ).all()
        if not page:
            return
        last = page[-1].id
        ids = [
            r.id for r in page if holds(bytes(r.payload), forms) or holds(r.reason.encode(), forms)
        ]
        if ids:
            done["dead letters erased"] += uow.session.execute(
                update(DeadLetterRow)
                .where(DeadLetterRow.id.in_(ids))
                .values(payload=b"", reason=ERASED)
            ).rowcount
