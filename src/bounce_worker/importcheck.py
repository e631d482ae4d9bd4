"""Check a contact file against the suppressions before a campaign.

Streams the CSV (constant memory), normalizes each address (plain ones on a fast path),
and asks the database 5,000 addresses at a time through `lookup.rulings`, the same rule
as `api.check`. Every row gets a report line: send, skip (with state, reason and the
entry that applies) or bad (unparseable address, missing column, not UTF-8).
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

Writer = Any  # the csv module's writer objects have no public type

REPORT_COLUMNS = ["line", "address", "result", "state", "reason", "scope", "matched", "detail"]


class BadFile(ValueError):
    """The file as a whole cannot be checked (no header, no such column)."""


# A row waiting for its chunk's lookup: (line, as given, key or None, why it is bad).
Pending = tuple[int, str, str | None, str]


class ImportCheck:
    def __init__(
        self,
        engine: Engine,
        *,
        organization: str | None,
        list_id: str | None,
        channel: str = "email",
        secret: str | None = None,
    ) -> None:
        self.organization, self.list_id, self.channel = organization, list_id, channel
        self.lookup = Lookup(engine, channel, secret)
        self.counts: Counter[str] = Counter()

    def run(
        self,
        source: Path,
        report: IO[str],
        column: str = "email",
        progress: Callable[[int], None] | None = None,
    ) -> Counter[str]:
        """One report row per data row, in file order; returns counts (send, skip, bad,
        skip:STATE)."""
        out = csv.writer(report)
        out.writerow(REPORT_COLUMNS)
        with source.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            rows = csv.reader(text)
            index = self._column(rows, column)
            pending: list[Pending] = []
            while True:
                try:
                    row = next(rows, None)
                except csv.Error as exc:  # e.g. an oversized field: this row is bad, go on
                    pending.append((rows.line_num, "", None, f"unreadable CSV row: {exc}"))
                    continue
                if row is None:
                    break
                if any(row):  # blank lines are not contacts
                    pending.append(self._read(rows.line_num, row, index, column))
                if len(pending) >= CHUNK:
                    self._flush(out, pending)
                    if progress:
                        progress(raw.tell())
            self._flush(out, pending)
        return self.counts

    def _column(self, rows: Iterator[list[str]], column: str) -> int:
        try:
            header = next(rows)
        except (StopIteration, csv.Error):
            raise BadFile("the file has no CSV header line") from None
        names = [h.strip().lower() for h in header]
        if column.lower() not in names:
            raise BadFile(f"no column {column!r} in the header (columns: {', '.join(header)})")
        return names.index(column.lower())

    def _read(self, line: int, row: list[str], index: int, column: str) -> Pending:
        if index >= len(row):
            return (line, "", None, f"missing column {column!r}")
        value = row[index]
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("latin-1")
            return (line, shown, None, "not UTF-8 (save the file as UTF-8)")
        try:
            return (line, value, address_key(normalize_recipient(value, self.channel)), "")
        except InvalidAddress as exc:
            return (line, value, None, str(exc))

    def _flush(self, out: Writer, pending: list[Pending]) -> None:
        keys = [key for _, _, key, _ in pending if key is not None]
        found = self.lookup.rulings(keys, self.organization, self.list_id)
        for line, given, key, why in pending:
            hit = found[key] if key is not None else None
            if key is None:
                self.counts["bad"] += 1
                out.writerow([line, given, "bad", "", "", "", "", why])
            elif hit is None:
                self.counts["send"] += 1
                out.writerow([line, given, "send", "active", "", "", "", ""])
            else:
                self.counts["skip"] += 1
                self.counts[f"skip:{hit.state}"] += 1
                out.writerow([line, given, "skip", hit.state, hit.reason or "", *_where(hit), ""])
        pending.clear()


def _where(hit: Hit) -> list[str]:
    scope = "/".join(p for p in (hit.scope, hit.organization, hit.list) if p)
    if hit.channel == "domain":
        return [scope, f"domain {hit.address}"]
    return [scope, "forgotten address" if hit.address.startswith(FORGOTTEN_PREFIX) else "address"]
