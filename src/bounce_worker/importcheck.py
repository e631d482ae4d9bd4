"""Check a contact file against the suppressions before a campaign.

Streams the CSV (constant memory), normalizes each address (plain ones on a fast path),
and asks the database 5,000 addresses at a time through `lookup.Lookup`, the same rule as
`api.check`. Every row gets a report line, in file order: send, skip (with state, reason
and the entry that applies) or bad (unparseable address, missing column, not UTF-8).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from bounce_worker.domain.addresses import InvalidAddress, address_key, normalize_recipient
from bounce_worker.domain.targets import FORGOTTEN_PREFIX
from bounce_worker.lookup import CHUNK, Hit, Lookup

REPORT_COLUMNS = ["line", "address", "result", "state", "reason", "scope", "matched", "detail"]

# A data row as read: (line, the address cell, or None and why the row is bad).
Item = tuple[int, str | None, str]
Checked = tuple[list[list[Any]], Counter[str]]  # report rows, counts


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

    def __call__(self, items: list[Item]) -> Checked:
        read = [(line, cell, *self._key(cell, why)) for line, cell, why in items]
        found = self.lookup.rulings(
            [key for *_, key, _ in read if key is not None], self.organization, self.list_id
        )
        rows: list[list[Any]] = []
        counts: Counter[str] = Counter()
        for line, cell, key, why in read:
            if key is None:
                counts["bad"] += 1
                rows.append([line, _shown(cell), "bad", "", "", "", "", why])
            elif (hit := found.get(key)) is None:
                counts["send"] += 1
                rows.append([line, cell, "send", "active", "", "", "", ""])
            else:
                counts["skip"] += 1
                counts[f"skip:{hit.state}"] += 1
                rows.append([line, cell, "skip", hit.state, hit.reason or "", *_where(hit), ""])
        return rows, counts

    def _key(self, cell: str | None, why: str) -> tuple[str | None, str]:
        if cell is None:
            return None, why
        if not cell.isascii():  # cheap test first: most addresses are ASCII
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                return None, "not UTF-8 (save the file as UTF-8)"
        try:
            return address_key(normalize_recipient(cell, self.channel)), ""
        except InvalidAddress as exc:
            return None, str(exc)


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
            raise BadFile(f"no column {column!r} in the header (columns: {', '.join(header)})")
        index = names.index(column.lower())
        chunk: list[Item] = []
        while True:
            try:
                row = next(rows, None)
            except csv.Error as exc:  # e.g. an oversized field: this row is bad, go on
                chunk.append((rows.line_num, None, f"unreadable CSV row: {exc}"))
                continue
            if row is None:
                break
            if index < len(row):
                chunk.append((rows.line_num, row[index], ""))
            elif any(row):  # blank lines are not contacts
                chunk.append((rows.line_num, None, f"missing column {column!r}"))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
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
    for items in _chain(first, chunks):
        rows, chunk_counts = check(items)
        out.writerows(rows)
        counts.update(chunk_counts)
        done += len(rows)
        if progress:
            progress(done)
    return counts


def _chain(first: list[Item], rest: Iterator[list[Item]]) -> Iterator[list[Item]]:
    if first:
        yield first
    yield from rest
