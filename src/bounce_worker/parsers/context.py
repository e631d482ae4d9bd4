"""What every raw-mail parser needs to know about the mail it is reading.

Built once per mail by `parse_message`, so each format parser only reads its own part of it
and the rules for ids, times, organization and list are the same for every format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bounce_worker.domain.events import Event
from bounce_worker.parsers import mime
from bounce_worker.parsers._common import digest, make_event, parse_date
from bounce_worker.parsers.mime import Part

_LIST_ID_RE = re.compile(r"<([^<>\s]+)>")
_UNSET: Any = object()  # a lazily read field not read yet (None is a value)


@dataclass
class MailContext:
    raw: bytes
    msg: Part
    received_at: datetime
    source: str = "mta"
    original: Part | None = None  # headers of the returned original message
    _text: str | None = None
    note: str | None = None  # what the bounce's format tells (e.g. a filtering gateway)
    id_base: str = field(init=False)
    _plain: str | None = field(default=None, init=False, repr=False)
    _date: Any = field(default=_UNSET, init=False, repr=False)
    _list_id: Any = field(default=_UNSET, init=False, repr=False)

    def __post_init__(self) -> None:
        # Same mail twice -> same ids. Message-ID identifies a mail across re-deliveries (its
        # Received lines may differ); without one, the bytes themselves do.
        message_id = mime.header(self.msg, "Message-ID")
        self.id_base = digest("mid", message_id) if message_id else digest("raw", self.raw)

    @property
    def text(self) -> str:
        """The bounce's human-readable text, decoded on first use (DSNs rarely need it)."""
        if self._text is None:
            self._text = mime.human_text(self.msg)
        return self._text

    # (Computed on first use and kept in a field: functools.cached_property takes a lock on
    # every first read, which cost more than reading the Date or List-Id header itself.)
    @property
    def plain_text(self) -> str:
        """The text/plain parts only: where MTAs write the SMTP session (no HTML to strip)."""
        if self._plain is None:
            self._plain = self._text if self._text is not None else mime.plain_text(self.msg)
        return self._plain

    @property
    def mail_date(self) -> datetime | None:
        if self._date is _UNSET:
            self._date = parse_date(mime.header(self.msg, "Date"))
        return self._date

    @property
    def list_id(self) -> str | None:
        if self._list_id is _UNSET:
            self._list_id = (
                None if self.original is None else list_id_of(mime.header(self.original, "List-Id"))
            )
        return self._list_id

    def event(self, index: int, *, occurred_at: datetime | None = None, **fields: Any) -> Event:
        # No organization: a mail's headers are written by whoever sent it; the VERP token
        # names the organization, if anything does (SPEC 7, domain/trust.py).
        fields.setdefault("organization", None)
        fields.setdefault("list", self.list_id)
        return make_event(
            event_id=f"{self.source}:{self.id_base}:{index}",
            channel="email",
            occurred_at=occurred_at or self.mail_date or self.received_at,
            source=self.source,
            **fields,
        )


def list_id_of(value: str | None) -> str | None:
    """RFC 2919: 'Description <list-id>' -> 'list-id'; a bare value is kept as given."""
    if not value:
        return None
    match = _LIST_ID_RE.search(value)
    return match.group(1) if match else value.strip() or None
