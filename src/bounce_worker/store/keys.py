"""An entry's key, and the advisory lock every writer takes on it before its row.

One lock order for every writer (the event writer, the operator use cases): the wide lock
(below), then a transaction-scoped advisory lock per key, in ascending `lock_id`, before any
row lock (PostgreSQL; SQLite serializes all writers with BEGIN IMMEDIATE).

The wide lock: each advisory lock takes a slot of PostgreSQL's shared lock table
(max_locks_per_transaction x max_connections, 6,400 slots by default, for every session of
the cluster). A transaction naming more keys than `MAX_KEY_LOCKS` (one webhook delivery of
thousands of events, a --batch-size in the thousands) would run out of them: "out of shared
memory", a transient error, retried forever, never applied. Such a transaction takes the
wide lock exclusively instead of its key locks; every other writer takes it shared before
its key locks. The big transaction then runs alone, and the usual ones as before."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from sqlalchemy import UniqueConstraint

from bounce_worker.store.models import EntryRow

# The unique key of an entry, in the constraint's (and EntryKey's) column order.
KEY_NAMES: tuple[str, ...] = tuple(
    next(
        c for c in EntryRow.__table__.constraints
        if isinstance(c, UniqueConstraint) and c.name == "uq_entries_key"
    ).columns.keys()
)  # fmt: skip
# The (int, int) advisory lock space never overlaps the bigint one the nightly jobs use.
LOCK_CLASS = 0x6277  # "bw"
# (class, id) of the wide lock: a class of its own, so no key's lock_id can be it.
WIDE_LOCK = (LOCK_CLASS + 1, 0)
MAX_KEY_LOCKS = 2_000


@dataclass(frozen=True, order=True, slots=True)
class EntryKey:
    channel: str
    address: str  # case-folded
    scope: str
    organization: str = ""
    list: str = ""


assert tuple(EntryKey.__dataclass_fields__) == KEY_NAMES, "EntryKey follows uq_entries_key"


def key_dict(key: EntryKey) -> dict[str, str]:
    return {n: getattr(key, n) for n in KEY_NAMES}


def lock_id(key: EntryKey) -> int:
    """A key's advisory lock id: a stable 32-bit hash (the same in every process), signed
    as PostgreSQL's int. A collision only makes two writers queue needlessly."""
    return zlib.crc32("\x00".join(key_dict(key).values()).encode()) - 2**31


def storable(text: str) -> str:
    """Text a PostgreSQL column accepts: a reason quotes bad input, which may hold NUL or a
    lone surrogate; both are written as backslash escapes instead."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
