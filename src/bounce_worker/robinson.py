"""Robinson lists: external do-not-contact lists (Mapp's "Robinson list"; the German
Robinsonliste of people who asked for no advertising at all).

A list is a file of email addresses, phone numbers (E.164), or their SHA-256 hashes,
imported under a name, platform-wide or for one organization:

    bounce-worker robinson import FILE --name NAME [--organization ORG]

Only the SHA-256 of each address key (the normalized, case-folded address, `+E.164` for a
phone) is stored: a list that arrives hashed is taken as it is, and one that arrives in
clear is stored the same way, so the lists never hold addresses. A check asks for the
digest of the address it is given: one more index probe, in the same statement.

An address on a list that applies (a platform-wide list, or the sending organization's)
may not be sent to: the check answers state `blacklisted`, reason `robinson`, scope
`robinson/NAME` (it is the person's own choice, like an unsubscribe, so a `blocked` entry
still rules over it). It is not an entry: nobody lifts it; the next import of the list
replaces it. Replacing a list is atomic: the old version is deleted and the new one filled
in one transaction, so a check sees the old list or the new one, never half of either
(and a file with no good line leaves the old list in place).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from bounce_worker.domain.addresses import InvalidAddress, address_key, normalize_recipient
from bounce_worker.store.models import RobinsonEntryRow, RobinsonListRow
from bounce_worker.store.uow import UnitOfWork

SCOPE = "robinson"  # the scope a Robinson hit shows under (check answers, contact card)
REASON = "robinson"
STATE = "blacklisted"
_HEX64 = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")
_HEADERS = frozenset({"email", "address", "phone", "mobile", "msisdn", "hash", "sha256"})
INSERT_BATCH = 5000
MAX_ERRORS_SHOWN = 3


class BadList(ValueError):
    """A list that cannot be imported (empty, unreadable): one line for the operator."""


def digest(key: str) -> bytes:
    """What a list stores for an address key (`address_key` of the normalized address)."""
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Imported:
    name: str
    organization: str | None
    entries: int  # distinct digests stored
    lines: int  # lines with a value read
    bad: int  # lines that were not an address, a phone number or a SHA-256
    first_errors: tuple[str, ...]
    replaced: int | None  # entries of the version replaced, None: a new list


@dataclass(frozen=True, slots=True)
class ListInfo:
    name: str
    organization: str | None
    entries: int
    imported_at: datetime
    imported_by: str | None


def parse_line(value: str) -> bytes:
    """The digest of one value of a list: an email address, a +E.164 phone number, or a
    SHA-256 hex digest (optionally `sha256:`) of an address key. Raises InvalidAddress."""
    text = value.strip()
    hashed = _HEX64.fullmatch(text)
    if hashed:
        return bytes.fromhex(hashed.group(1))
    channel = "sms" if text.startswith("+") and "@" not in text else "email"
    return digest(address_key(normalize_recipient(text, channel)))


def values(stream: IO[str]) -> Iterator[tuple[int, str]]:
    """(line number, first column) of a CSV or a one-value-a-line file; a first line that
    names the column (email, address, phone, hash...) is skipped; blank lines too."""
    for number, row in enumerate(csv.reader(stream), 1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if number == 1 and row[0].strip().lower() in _HEADERS:
            continue
        yield number, row[0]


def import_list(
    engine: Engine,
    source: Path | IO[str],
    *,
    name: str,
    organization: str | None,
    now: datetime,
    actor: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Imported:
    """Read a list and put it in place of the list called `name` (atomic, see above).
    Bad lines are counted and the first few named; a list with no good line is refused."""
    name = name.strip()
    if not name or len(name) > 255:
        raise BadList("a list needs a --name (at most 255 characters)")
    organization = (organization or "").strip() or None
    with UnitOfWork(engine) as uow:
        conn = uow.session.connection()
        old = conn.execute(
            select(RobinsonListRow.id, RobinsonListRow.entries)
            .where(
                RobinsonListRow.name == name,
                RobinsonListRow.organization == (organization or ""),
            )
            .with_for_update()
        ).first()
        if old is not None:  # readers keep seeing it until this transaction commits
            conn.execute(delete(RobinsonEntryRow).where(RobinsonEntryRow.list_id == old.id))
            conn.execute(delete(RobinsonListRow).where(RobinsonListRow.id == old.id))
        new_id = conn.execute(
            insert(RobinsonListRow).returning(RobinsonListRow.id),
            {"name": name, "organization": organization or "", "entries": 0,
             "imported_at": now, "imported_by": actor},
        ).scalar_one()  # fmt: skip
        counts = _fill(conn, new_id, source, progress)
        if counts.entries == 0:  # the rollback leaves the old version in place
            raise BadList(
                f"no address, phone number or SHA-256 in the list ({counts.bad} bad lines"
                + (f"; {counts.first_errors[0]}" if counts.first_errors else "")
                + ")"
            )
        conn.execute(
            update(RobinsonListRow)
            .where(RobinsonListRow.id == new_id)
            .values(entries=counts.entries)
        )
        uow.commit()
    return Imported(
        name, organization, counts.entries, counts.lines, counts.bad, counts.first_errors,
        None if old is None else int(old.entries),
    )  # fmt: skip


@dataclass
class _Counts:
    entries: int = 0
    lines: int = 0
    bad: int = 0
    first_errors: tuple[str, ...] = ()


def _fill(
    conn: object, list_id: int, source: Path | IO[str], progress: Callable[[int], None] | None
) -> _Counts:
    counts = _Counts()
    seen: set[bytes] = set()
    batch: list[dict[str, object]] = []
    errors: list[str] = []

    def flush() -> None:
        if batch:
            conn.execute(insert(RobinsonEntryRow), batch)  # type: ignore[attr-defined]
            batch.clear()

    with _open(source) as stream:
        for number, value in values(stream):
            counts.lines += 1
            try:
                found = parse_line(value)
            except InvalidAddress as exc:
                counts.bad += 1
                if len(errors) < MAX_ERRORS_SHOWN:
                    errors.append(f"line {number}: {exc}")
                continue
            if found in seen:
                continue
            seen.add(found)
            batch.append({"list_id": list_id, "digest": found})
            if len(batch) >= INSERT_BATCH:
                flush()
                if progress is not None:
                    progress(counts.lines)
        flush()
    if progress is not None:
        progress(counts.lines)
    counts.entries = len(seen)
    counts.first_errors = tuple(errors)
    return counts


class _open:
    """A path opened as UTF-8 text (BOM tolerated), or a text stream as it is."""

    def __init__(self, source: Path | IO[str]) -> None:
        self.source = source
        self.file: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        if isinstance(self.source, Path):
            self.file = self.source.open(encoding="utf-8-sig", newline="")
            return self.file
        return self.source

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


def listing(engine: Engine) -> list[ListInfo]:
    stmt = select(RobinsonListRow)
    with UnitOfWork(engine) as uow:
        return [
            ListInfo(r.name, r.organization or None, r.entries, r.imported_at, r.imported_by)
            for r in uow.session.scalars(stmt.order_by(RobinsonListRow.name))
        ]


def remove(engine: Engine, name: str, organization: str | None) -> int:
    """Drop a list; the number of entries it had (BadList if there is none by that name)."""
    with UnitOfWork(engine) as uow:
        conn = uow.session.connection()
        row = conn.execute(
            select(RobinsonListRow.id, RobinsonListRow.entries).where(
                RobinsonListRow.name == name, RobinsonListRow.organization == (organization or "")
            )
        ).first()
        if row is None:
            of = f" of {organization}" if organization else ""
            raise BadList(f"no Robinson list {name!r}{of}")
        conn.execute(delete(RobinsonEntryRow).where(RobinsonEntryRow.list_id == row.id))
        conn.execute(delete(RobinsonListRow).where(RobinsonListRow.id == row.id))
        uow.commit()
    return int(row.entries)


def matches(
    engine: Engine, keys: Iterable[str], conn: Connection | None = None
) -> dict[str, list[tuple[str, str]]]:
    """For address keys, the (organization, name) of every list holding them ('' for a
    platform-wide list). On `conn` if given (SQLite: a second connection would wait for
    the first one's write lock)."""
    by_digest = {digest(k): k for k in keys}
    if not by_digest:
        return {}
    stmt = (
        select(RobinsonEntryRow.digest, RobinsonListRow.organization, RobinsonListRow.name)
        .join(RobinsonListRow, RobinsonListRow.id == RobinsonEntryRow.list_id)
        .where(RobinsonEntryRow.digest.in_(list(by_digest)))
    )
    out: dict[str, list[tuple[str, str]]] = {}
    if conn is None:
        with engine.connect() as own:
            rows = own.execute(stmt).all()
    else:
        rows = conn.execute(stmt).all()
    for found, org, name in rows:
        out.setdefault(by_digest[bytes(found)], []).append((org, name))
    return out


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(RobinsonEntryRow)).scalar_one())
