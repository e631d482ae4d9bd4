"""What one input may cost: the caps on a message, a mail and a task, in one place.

The caps that an operator may tune are settings (config.py, `BOUNCE_WORKER_*`, each with its
line in config.DESCRIPTIONS); their defaults and the fixed caps live here, and so do the time
limits of every task and of `dead-letters replay` (`TASK_TIME_LIMITS`), so that the rule "the
broker's visibility timeout exceeds every hard time limit" is checked against one table when
a worker starts (`visibility_timeout_problem`, celery_app.py). docs/hardening.md explains
each one.

A raw mail is parsed under `MailLimits` (parsers/mime_part.py, parsers/mime.py and the format
parsers read them through `active()`, set by `parse_message` for the length of one parse), so
that parsing costs time and memory linear in the mail's size:

- a mail over `max_bytes` is not parsed: it is dead-lettered with its first
  `KEEP_BYTES` bytes, its size and its SHA-256 (`oversize_reason`);
- a part's header block is read up to `max_header_bytes`, and up to `max_headers` fields;
- RFC 2047 encoded words: at most `max_encoded_words` per header value are decoded, the rest
  is kept as written;
- at most `max_parts` MIME parts are read, nested at most `max_depth` levels (deeper parts
  are opaque leaves); nesting never copies a body (parts are offsets into the one mail);
- a text part is decoded up to `max_text_bytes`; its charset must be in `CHARSETS`, any other
  is decoded as UTF-8 with replacement characters (Python's punycode codec, for one, is
  quadratic);
- a mail naming more than `max_recipients` distinct recipients is dead-lettered (SPEC 7);
  parsers stop reading recipients at the cap + 1.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

# A task message body nested deeper than this is malformed (poison.py): events are flat,
# a batch is [[{event}, ...], {}, {}], so a dozen levels is already suspicious.
MAX_JSON_DEPTH = 32

MB = 1024 * 1024
# An oversized payload's dead letter keeps at most this much of it (and its size and digest).
KEEP_BYTES = 1 * MB


@dataclass(frozen=True, slots=True)
class MailLimits:
    """Caps on one raw mail (defaults: the settings' defaults)."""

    max_bytes: int = 10 * MB  # BOUNCE_WORKER_MAX_MESSAGE_BYTES
    max_recipients: int = 100  # BOUNCE_WORKER_MAX_RECIPIENTS
    max_headers: int = 1000  # BOUNCE_WORKER_MAX_HEADERS: fields per header block
    max_header_bytes: int = 256 * 1024  # BOUNCE_WORKER_MAX_HEADER_BYTES: per header block
    max_encoded_words: int = 100  # BOUNCE_WORKER_MAX_ENCODED_WORDS: per header value
    max_parts: int = 500  # BOUNCE_WORKER_MAX_MIME_PARTS
    max_depth: int = 12  # BOUNCE_WORKER_MAX_MIME_DEPTH
    max_text_bytes: int = 1 * MB  # BOUNCE_WORKER_MAX_TEXT_BYTES: decoded per text part


DEFAULT = MailLimits()
_active: ContextVar[MailLimits] = ContextVar("bounce_worker_mail_limits", default=DEFAULT)


def active() -> MailLimits:
    """The limits of the mail being parsed (the defaults outside `parse_message`)."""
    return _active.get()


@contextmanager
def applied(limits: MailLimits) -> Iterator[None]:
    token = _active.set(limits)
    try:
        yield
    finally:
        _active.reset(token)


# Charsets a mail may be decoded from: the ones mail is written in, all with codecs that are
# linear in the input (C decoders). Names are Python's canonical codec names
# (codecs.lookup(name).name), so every alias of these is accepted too. Anything else
# (punycode, idna, utf-7, rot13, the *_codec byte transforms, ...) decodes as UTF-8 with
# replacement characters.
CHARSETS = frozenset(
    codecs.lookup(name).name
    for name in (
        "utf-8", "ascii", "latin-1", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
        "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5", "iso8859-6", "iso8859-7",
        "iso8859-8", "iso8859-9", "iso8859-10", "iso8859-11", "iso8859-13", "iso8859-14",
        "iso8859-15", "iso8859-16", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254",
        "cp1255", "cp1256", "cp1257", "cp1258", "koi8-r", "koi8-u", "cp866", "cp437",
        "cp850", "cp874", "mac-roman", "tis-620", "gb2312", "gbk", "gb18030", "big5",
        "big5hkscs", "shift_jis", "cp932", "euc-jp", "iso2022_jp", "iso2022_jp_2",
        "euc-kr", "cp949", "iso2022_kr", "hz",
    )
)  # fmt: skip


def codec(charset: str | None) -> str | None:
    """The allowed codec for a declared charset, or None (decode as UTF-8, replacing)."""
    name = (charset or "").strip().strip('"').strip("'").lower()
    if not name:
        return "utf-8"
    if len(name) > 40:
        return None
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    return canonical if canonical in CHARSETS else None


def oversize_reason(size: int, sha256: str, limit: int) -> str:
    """The dead-letter reason of a payload of `size` bytes over `limit`, with the SHA-256 of
    all of it (the dead letter keeps only its first `kept(limit)` bytes)."""
    return (
        f"payload of {size} bytes (sha256 {sha256}) is over the limit of {limit} "
        f"(BOUNCE_WORKER_MAX_MESSAGE_BYTES); only the first {kept(limit)} bytes are kept"
    )


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def kept(limit: int) -> int:
    """How much of an oversized payload its dead letter keeps."""
    return min(limit, KEEP_BYTES)


# -- retries ---------------------------------------------------------------------------------
# A transient error (errors.TRANSIENT: a lost connection, a deadlock, a server shutting down)
# is retried forever with exponential backoff and full jitter: the first wait at most
# RETRY_BACKOFF_FIRST seconds, doubling up to RETRY_BACKOFF_MAX. Used by tasks.DatabaseTask
# (Celery's autoretry) and by grouping.retrying (the event groups retry in place).
RETRY_BACKOFF_FIRST = 1
RETRY_BACKOFF_MAX = 300
# A PostgreSQL connect gives up after this many seconds (libpq's connect_timeout; a
# `connect_timeout` in the database URL wins). Without it a host that drops packets makes
# one attempt hang for the kernel's TCP timeout (minutes), and the retry loop above, which
# checks for a warm shutdown between attempts, would not see SIGTERM until then.
DB_CONNECT_TIMEOUT = 10
# An open connection whose server or network goes silent (a host that died, a firewall that
# forgot the flow) is found dead by TCP keepalive: libpq asks the kernel to probe after
# `keepalives_idle` seconds of silence, every `keepalives_interval` seconds, and to give up
# after `keepalives_count` unanswered probes (about 25 s in all); `tcp_user_timeout` (ms)
# bounds how long data sent stays unacknowledged (tcp(7)). Without them a query waiting
# on such a connection waits for the kernel's defaults: two hours before the first probe.
# A busy server's kernel answers the probes, so a long statement is never cut short.
# Each is a libpq connection parameter; the same name in the database URL wins.
DB_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


# -- time ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimeLimit:
    """A task's time limits in seconds: at `soft` the task gets SoftTimeLimitExceeded (its
    transaction rolls back, the payload is dead-lettered or the message redelivered), at
    `hard` its pool process is killed (the message, unacknowledged, is redelivered)."""

    soft: int
    hard: int


# Every task, by name (tasks.py declares none of its own; celeryconfig applies this table as
# task annotations). The event tasks retry a transient database error in place, forever,
# with backoff up to 300 s (grouping.retrying, DatabaseTask): their limits leave room for an
# outage of several minutes before the message goes back to the queue. Raw mail is parsed
# in the task (bench/hostile.py: well under a second for the worst mails), webhooks too.
# The nightly jobs are set-based SQL over millions of rows.
TASK_TIME_LIMITS: dict[str, TimeLimit] = {
    "bounce_worker.process_event": TimeLimit(1500, 1800),
    "bounce_worker.process_batch": TimeLimit(1500, 1800),
    "bounce_worker.ingest_raw": TimeLimit(120, 180),
    "bounce_worker.ingest_webhook": TimeLimit(30, 60),
    "bounce_worker.ingest_sms": TimeLimit(30, 60),
    "bounce_worker.unlock_expired": TimeLimit(1500, 1800),
    "bounce_worker.recalculate": TimeLimit(1500, 1800),
    "bounce_worker.housekeeping": TimeLimit(1500, 1800),
}
# A task missing from the table (a new one) gets these.
DEFAULT_TIME_LIMIT = TimeLimit(1500, 1800)

# `bounce-worker dead-letters replay`: each dead letter is replayed under the soft limit of
# the task that handles its kind; one over it stays a dead letter with that reason.
REPLAY_TIME_LIMITS: dict[str, str] = {
    "event": "bounce_worker.process_event",
    "raw": "bounce_worker.ingest_raw",
    "webhook": "bounce_worker.ingest_webhook",
    "message": "bounce_worker.process_event",
}


def capped(limit: TimeLimit, cap: int = 0) -> TimeLimit:
    """`limit` with its hard limit at most `cap` seconds (0: no cap) and its soft limit
    kept a sixth of the cap (at least a second) below it, so the task still gets its
    SoftTimeLimitExceeded first (BOUNCE_WORKER_TASK_TIME_LIMIT_CAP)."""
    if cap <= 0 or limit.hard <= cap:
        return limit
    return TimeLimit(max(1, min(limit.soft, cap - max(1, cap // 6))), cap)


def task_time_limit(name: str, cap: int = 0) -> TimeLimit:
    return capped(TASK_TIME_LIMITS.get(name, DEFAULT_TIME_LIMIT), cap)


def replay_time_limit(kind: str, cap: int = 0) -> int:
    """Seconds one dead letter of `kind` may take to replay."""
    return task_time_limit(REPLAY_TIME_LIMITS.get(kind, ""), cap).soft


def longest_hard_limit(cap: int = 0) -> tuple[int, str]:
    """(seconds, task name) of the longest hard time limit of any task."""
    name = max(TASK_TIME_LIMITS, key=lambda n: TASK_TIME_LIMITS[n].hard)
    longest = task_time_limit(name, cap).hard
    default = capped(DEFAULT_TIME_LIMIT, cap).hard
    if default > longest:
        return default, "any task without its own limit"
    return longest, name


def visibility_timeout_problem(visibility_timeout: int, cap: int = 0) -> str | None:
    """The one-line error when the broker's visibility timeout does not exceed every hard
    time limit (a live task's message would be handed to a second worker), else None."""
    longest, name = longest_hard_limit(cap)
    if visibility_timeout > longest:
        return None
    return (
        f"BOUNCE_WORKER_VISIBILITY_TIMEOUT is {visibility_timeout} s: it must exceed the "
        f"longest hard time limit, {longest} s ({name}), or a running task's message is "
        "delivered twice (or cap the limits with BOUNCE_WORKER_TASK_TIME_LIMIT_CAP)"
    )


class TimeLimitExceeded(Exception):
    """Raised inside `deadline` when its time is up."""


@contextmanager
def deadline(seconds: int, what: str) -> Iterator[None]:
    """Raise TimeLimitExceeded in the block after `seconds` (SIGALRM: main thread only; in
    another thread the block runs without a limit)."""
    import signal
    import threading

    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise TimeLimitExceeded(f"{what} took longer than its time limit of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
