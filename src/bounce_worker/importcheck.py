"""Check a contact file against the suppressions before a campaign.

Streams the CSV (constant memory), normalizes each address (plain ones on a fast path),
and asks the database 5,000 addresses at a time through `lookup.Lookup`, the same rule as
`api.check`; a thread waits for the database while the next chunks are read. Every row
gets a report line, in file order: send, skip (with state, reason and the entry that
applies) or bad (unparseable address, missing column, not UTF-8).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from bounce_worker.domain.addresses import (
    InvalidAddress,
    address_key,
    email_key,
    normalize_phone,
)
from bounce_worker.domain.targets import FORGOTTEN_PREFIX
from bounce_worker.lookup import CHUNK, Batch, Found, Hit, Lookup
from bounce_worker.store.thread import database_thread

REPORT_COLUMNS = ["line", "address", "result", "state", "reason", "scope", "matched", "detail"]

# A data row as read: (line, the address cell, or None and why the row is bad).
Item = tuple[int, str | None, str]
# A data row normalized: (line, the address cell, its key or None, why the row is bad).
Read = tuple[int, str | None, str | None, str]
Checked = tuple[str, Counter[str]]  # report rows (CSV text), counts


class BadFile(ValueError):
    """The file as a whole cannot be checked (no header, no such column)."""


class ChunkChecker:
    """Normalize and look up one chunk of rows, and format its report rows."""

    def __init__(
        self,
        engine: Engine,
        channel: str,
        secret: str | None,
        organization: str,
        list_id: str | None,
    ) -> None:
        self.lookup = Lookup(engine, channel, secret)
        self.channel, self.organization, self.list_id = channel, organization, list_id
        # Straight to the key: a file's addresses are nearly all distinct, so
        # normalize_recipient's memo would only cost, and only the key is needed.
        self.key_of: Callable[[str], str] = (
            _phone_key if channel == "sms" else email_key  # as normalize_recipient decides
        )

    def read(self, items: list[Item]) -> list[Read]:
        """Each row's key, or None and why the row is bad."""
        key_of = self.key_of
        read: list[Read] = []
        for line, cell, why in items:
            key = None
            if cell is not None:
                if not cell.isascii() and not _is_utf8(cell):
                    why = "not UTF-8 (save the file as UTF-8)"
                else:
                    try:
                        key = key_of(cell)
                    except InvalidAddress as exc:
                        why = str(exc)
            read.append((line, cell, key, why))
        return read

    def prepare(self, read: list[Read]) -> Batch:
        return self.lookup.prepare(key for _, _, key, _ in read if key is not None)

    def report(self, read: list[Read], batch: Batch, fetched: Found) -> Checked:
        found = self.lookup.decide(batch, fetched, self.organization, self.list_id)
        lines: list[str] = []
        counts: Counter[str] = Counter()
        bad = send = 0
        as_csv = _CsvLine()
        quoted = _NEEDS_QUOTES
        for line, cell, key, why in read:
            if key is None:
                bad += 1
                lines.append(as_csv([line, _shown(cell), "bad", "", "", "", "", why]))
            elif (hit := found.get(key)) is None:
                send += 1
                # Nine rows in ten: formatted here, as csv.writer would (tests check it),
                # at a third of its cost; a cell that needs quoting goes through it.
                if quoted(cell):
                    lines.append(as_csv([line, cell, "send", "active", "", "", "", ""]))
                else:
                    lines.append(f"{line},{cell},send,active,,,,\r\n")
            else:
                counts["skip"] += 1
                counts[f"skip:{hit.state}"] += 1
                lines.append(
                    as_csv([line, cell, "skip", hit.state, hit.reason or "", *_where(hit), ""])
                )
        for result, n in (("bad", bad), ("send", send)):
            if n:
                counts[result] = n
        return "".join(lines), counts


# csv.writer's (excel dialect, QUOTE_MINIMAL) reasons to quote a field.
_NEEDS_QUOTES = re.compile(r'[",\r\n]').search


class _CsvLine:
    """One report row as csv.writer writes it."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def __call__(self, fields: list[Any]) -> str:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.writer.writerow(fields)
        return self.buffer.getvalue()


def _phone_key(cell: str) -> str:
    return address_key(normalize_phone(cell))


def _is_utf8(cell: str) -> bool:
    """False for a cell read from bytes that are not UTF-8 (kept as lone surrogates)."""
    try:
        cell.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(cell: str | None) -> str:
    """A bad row's cell as readable text (undecodable bytes become U+FFFD)."""
    if cell is None:
        return ""
    return cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _where(hit: Hit) -> list[str]:
    scope = "/".join(p for p in (hit.scope, hit.organization, hit.list) if p)
    if hit.channel == "domain":
        return [scope, f"domain {hit.address}"]
    return [scope, "forgotten address" if hit.address.startswith(FORGOTTEN_PREFIX) else "address"]


def read_items(source: Path, column: str) -> Iterator[list[Item]]:
    """The file's data rows in chunks; bad rows carry why (never an exception)."""
    with source.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        rows = csv.reader(text)
        try:
            header = next(rows)
        except (StopIteration, csv.Error):
            raise BadFile("the file has no CSV header line") from None
        names = [h.strip().lower() for h in header]
        if column.lower() not in names:
            shown = ", ".join(_shown(h) for h in header)  # bytes that are not UTF-8: U+FFFD
            raise BadFile(f"no column {column!r} in the header (columns: {shown})")
        index = names.index(column.lower())
        missing = f"missing column {column!r}"
        chunk: list[Item] = []
        while True:
            try:
                # One `for` over the reader (not a next() call per row): the loop is most of
                # the reading cost; a bad row breaks out of it and the reading goes on.
                for row in rows:
                    if index < len(row):
                        chunk.append((rows.line_num, row[index], ""))
                    elif any(row):  # blank lines are not contacts
                        chunk.append((rows.line_num, None, missing))
                    if len(chunk) >= CHUNK:
                        yield chunk
                        chunk = []
                break
            except csv.Error as exc:  # e.g. an oversized field: this row is bad, go on
                chunk.append((rows.line_num, None, f"unreadable CSV row: {exc}"))
        if chunk:
            yield chunk


def check_file(
    engine: Engine,
    source: Path,
    report: IO[str],
    *,
    organization: str,
    list_id: str | None = None,
    column: str = "email",
    channel: str = "email",
    secret: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Counter[str]:
    """Write the report; returns counts (send, skip, bad, skip:STATE)."""
    out = csv.writer(report)
    chunks = read_items(source, column)
    first = next(chunks, [])  # a bad header fails here, before any worker starts
    out.writerow(REPORT_COLUMNS)
    check = ChunkChecker(engine, channel, secret, organization, list_id)
    counts: Counter[str] = Counter()
    done = 0

    def write(read: list[Read], batch: Batch, fetched: Future[Found]) -> None:
        nonlocal done
        text, chunk_counts = check.report(read, batch, fetched.result())
        report.write(text)
        counts.update(chunk_counts)
        done += len(read)
        if progress:
            progress(done)

    ahead: deque[tuple[list[Read], Batch, Future[Found]]] = deque()
    with database_thread(engine) as submit:
        for items in _chain(first, chunks):
            read = check.read(items)
            batch = check.prepare(read)
            ahead.append((read, batch, submit(check.lookup.fetch, batch)))
            if len(ahead) > LOOKAHEAD:
                write(*ahead.popleft())
        while ahead:
            write(*ahead.popleft())
    return counts


LOOKAHEAD = 2  # chunks whose entries may be on their way while the next one is read


def _chain(first: list[Item], rest: Iterator[list[Item]]) -> Iterator[list[Item]]:
    if first:
        yield first
    yield from rest
