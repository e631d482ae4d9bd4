"""Domain counters, incremented by the service next to its log lines.

Celery's prefork pool runs tasks in child processes, so a plain in-memory counter would be
seen by nobody. With PROMETHEUS_MULTIPROC_DIR set (the compose file sets it for the worker
and the exporter, on a shared volume), every process writes its counts to a small mmap file
there and `bounce-worker metrics` sums them at scrape time. Without it the counters live in
the process (the `process` command, tests) and nothing else is needed.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from prometheus_client import Counter, Gauge, values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiproc_dir() -> Path | None:
    raw = os.environ.get(MULTIPROC_ENV, "").strip()
    return Path(raw) if raw else None


_dir = multiproc_dir()
if _dir is not None:
    _dir.mkdir(parents=True, exist_ok=True)
    # File names carry the process id; containers of a scaled worker service share the
    # volume and each has its own pid 1, 2, ..., so the host name keeps their files apart.
    _host = socket.gethostname()
    values.ValueClass = values.MultiProcessValue(lambda: f"{_host}_{os.getpid()}")

TRANSITIONS = Counter(
    "bounce_worker_transitions",
    "Suppression transitions written, by target state and reason.",
    ["channel", "scope", "to_state", "reason"],
)
DEAD_LETTERS = Counter(
    "bounce_worker_dead_letters",
    "Inputs stored as dead letters (bad JSON, invalid events), by kind.",
    ["kind"],
)
JOB_ROWS = Counter(
    "bounce_worker_job_rows",
    "Rows changed by the scheduled jobs (e.g. entries unlocked), by task name.",
    ["job"],
)
# "max" over processes: the newest success wins, and it survives the process that ran it.
JOB_LAST_SUCCESS = Gauge(
    "bounce_worker_job_last_success_timestamp_seconds",
    "When each scheduled job last succeeded (Unix time); alert when it gets old.",
    ["job"],
    multiprocess_mode="max",
)


def transition(channel: str, scope: str, to_state: str, reason: str) -> None:
    TRANSITIONS.labels(channel, scope, to_state, reason).inc()


def dead_letter(kind: str) -> None:
    DEAD_LETTERS.labels(kind).inc()


def job_succeeded(job: str, rows: int, at: float) -> None:
    JOB_ROWS.labels(job).inc(rows)
    JOB_LAST_SUCCESS.labels(job).set(at)


# The HTTP intake (serve): what each webhook route accepted and refused, and why.
WEBHOOKS_ACCEPTED = Counter(
    "bounce_worker_webhooks_accepted",
    "Webhook requests whose authentication checked out and that were queued, by provider.",
    ["provider"],
)
WEBHOOKS_REFUSED = Counter(
    "bounce_worker_webhook_refusals",
    "Webhook requests refused (nothing queued), by provider and reason code.",
    ["provider", "reason"],
)


def webhook_accepted(provider: str) -> None:
    WEBHOOKS_ACCEPTED.labels(provider).inc()


def webhook_refused(provider: str, reason: str) -> None:
    WEBHOOKS_REFUSED.labels(provider, reason).inc()


UNVERIFIED = Counter(
    "bounce_worker_unverified_events",
    "Feedback events recorded without changing state because nothing verified them "
    "(a raw mail without a valid VERP token, from an untrusted source), by input kind.",
    ["kind"],
)


def unverified(kind: str) -> None:
    UNVERIFIED.labels(kind).inc()
