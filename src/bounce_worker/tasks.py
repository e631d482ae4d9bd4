"""Celery tasks: decode, call a service function, done.

The event tasks (`process_event`, applied by the worker in groups, and `process_batch`)
fail safe through grouping.apply_group: a transient error is retried in place, a bug
falls back to one event at a time and dead-letters only the event that hits it. For the
others, retries are declared once, on the base class: database and broker errors (the
transient ones: a lost connection, a server shutting down, a deadlock) retry with
exponential backoff and full jitter, forever (an event is never given up on; Flower shows
the retries). Bad input is never retried: the service dead-letters it. Any other error
stores the payload as a dead letter before the task fails, so even a bug loses no event
(replay it after the fix).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.exceptions import Reject
from celery_batches import SimpleRequest
from sqlalchemy import Engine

from bounce_worker import ingest, jobs, limits, service
from bounce_worker.celery_app import app
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain.events import parse_instant
from bounce_worker.errors import TRANSIENT
from bounce_worker.grouping import GIVEN_BACK, ApplyMany, DeadLetter, EventGroups, apply_group
from bounce_worker.shutdown import ShuttingDown
from bounce_worker.store.db import get_engine


class DatabaseTask(Task):  # type: ignore[misc]
    autoretry_for = TRANSIENT
    retry_backoff = limits.RETRY_BACKOFF_FIRST  # 1, 2, 4 ... s, each drawn at random below
    retry_backoff_max = limits.RETRY_BACKOFF_MAX  # well under the visibility timeout
    retry_jitter = True
    max_retries = None
    acks_late = True
    reject_on_worker_lost = True


@app.task(
    base=EventGroups,
    name="bounce_worker.process_event",
    acks_late=True,  # after the group's commit (grouping.py)
    flush_every=settings().event_group_size,
    flush_interval=settings().event_group_wait,
)
def process_event(requests: list[SimpleRequest]) -> list[str] | str:
    """One event per message; the worker applies the messages it holds in groups
    (grouping.py): one transaction per group, one result per message, or GIVEN_BACK when
    the worker stopped while the group waited for the database."""
    ids = {f"task:{r.id}": r.id for r in requests}
    payloads = [r.args[0] if r.args else r.kwargs.get("event") for r in requests]
    apply, dead_letter = _event_steps(ids)
    try:
        return apply_group(apply, dead_letter, payloads, list(ids))
    except ShuttingDown:
        return GIVEN_BACK


@app.task(base=DatabaseTask, name="bounce_worker.process_batch", bind=True)
def process_batch(self: Task, events: Any) -> dict[str, int]:
    """Many events in one message and one transaction (`bounce-worker publish` packs them);
    it fails safe as a group of process_event messages does (grouping.apply_group)."""
    s = settings()
    source = f"task:{self.request.id}"
    if not isinstance(events, list):
        # The whole message is malformed: keep it, as the single path keeps a bad event.
        engine = get_engine(s.database_url)
        service.dead_letter(engine, "event", source, events, "batch is not a JSON array", utcnow())
        return {str(service.Result.DEAD_LETTERED): 1}
    apply, dead_letter = _event_steps()
    try:
        results = apply_group(apply, dead_letter, events, service.sources(source, len(events)))
    except ShuttingDown:
        # Stopped while the database was away: the message goes back on the queue (not
        # acknowledged as a failure would be, task_acks_on_failure).
        raise Reject("worker shutting down", requeue=True) from None
    return as_json_counts(Counter(results))


def _event_steps(task_ids: Mapping[str, str] | None = None) -> tuple[ApplyMany, DeadLetter]:
    """How a group applies its events, and how it stores one that hits a bug. `task_ids`
    (source -> task id) when each event was a message of its own, for the log lines."""
    s = settings()
    engine = get_engine(s.database_url)

    def apply(payloads: Sequence[Any], sources: Sequence[str]) -> list[service.Result]:
        decoded = service.decode_payloads(payloads, sources, max_bytes=s.max_message_bytes)
        return service.apply_and_follow(
            engine,
            decoded,
            policy=s.policy,
            now=utcnow(),
            task_ids=[task_ids[source] for source in sources] if task_ids else None,
        )

    def dead_letter(payload: Any, source: str, reason: str) -> None:
        service.dead_letter(engine, "event", source, payload, reason, utcnow())

    return apply, dead_letter


@contextmanager
def dead_letter_on_bug(engine: Engine, kind: str, source: str, payload: Any) -> Iterator[None]:
    """An unexpected error (not transient, not bad input: a bug) stores the payload as a dead
    letter of `kind`, replayable after the fix, then fails the task (which acks it)."""
    try:
        yield
    except TRANSIENT:
        raise
    except Exception as exc:
        reason = f"internal error: {type(exc).__name__}: {exc}"
        service.dead_letter(engine, kind, source, payload, reason, utcnow())
        raise


@app.task(base=DatabaseTask, name="bounce_worker.unlock_expired")
def unlock_expired() -> int:
    s = settings()
    result = jobs.unlock_expired(
        get_engine(s.database_url), now=utcnow(), batch_size=s.job_batch_size, workers=s.job_workers
    )
    return result.rows


# Time limits of every task: limits.TASK_TIME_LIMITS (applied by celeryconfig).
@app.task(
    base=DatabaseTask,
    name="bounce_worker.ingest_raw",
    bind=True,
)
def ingest_raw(
    self: Task,
    message_b64: Any,
    source: str | None = None,
    envelope: Any = None,
    oversize: Any = None,
) -> dict[str, int]:
    """A raw mail (DSN, MTA bounce, ARF, unsubscribe), base64 in the JSON body; `envelope`:
    the recipients its MTA delivered it to (pipe, LMTP), where its VERP address is;
    `oversize`: {"bytes": size, "sha256": digest} of a mail over the size limit whose
    producer sent only its first bytes (`raw_mail_args`): it is dead-lettered as it is."""
    s = settings()
    engine = get_engine(s.database_url)
    source = source or f"task:{self.request.id}"
    try:
        raw = base64.b64decode(message_b64, validate=True)
    except (ValueError, TypeError) as exc:
        service.dead_letter(
            engine,
            "raw",
            source,
            service.as_bytes(str(message_b64)),
            f"message is not valid base64: {exc}",
            utcnow(),
        )
        return {"dead_lettered": 1}
    with dead_letter_on_bug(engine, "raw", source, raw):
        if isinstance(oversize, dict):
            size = oversize.get("bytes")
            results = ingest.oversized(
                engine,
                raw,
                size if type(size) is int else len(raw),
                str(oversize.get("sha256"))[:64],
                s.mail_limits.max_bytes,
                source,
                utcnow(),
            )
            return as_json_counts(results)
        recipients = [str(a) for a in envelope] if isinstance(envelope, list) else ()
        results = ingest.ingest_configured(
            engine, raw, s, source=source, now=utcnow(), envelope=recipients
        )
    return as_json_counts(results)


def raw_mail_args(
    raw: bytes, source: str | None = None, envelope: Sequence[str] | None = None
) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) of the ingest_raw message for one raw mail. A mail over the size limit
    is not sent whole: only the bytes its dead letter keeps, with its size and SHA-256, so
    neither the broker nor the worker ever holds it (limits.py)."""
    limit = settings().mail_limits.max_bytes
    kwargs: dict[str, Any] = {}
    if len(raw) > limit:
        kwargs["oversize"] = {"bytes": len(raw), "sha256": limits.digest(raw)}
        raw = raw[: limits.kept(limit)]
    args: list[Any] = [base64.b64encode(raw).decode("ascii"), source]
    if envelope is not None:
        args.append(list(envelope))
    return args, kwargs


@app.task(
    base=DatabaseTask,
    name="bounce_worker.ingest_webhook",
    bind=True,
)
def ingest_webhook(self: Task, provider: str, payload: Any) -> dict[str, int]:
    """An ESP webhook delivery, with its provider name (ses, sendgrid, mailgun, postmark)."""
    s = settings()
    engine = get_engine(s.database_url)
    source = f"task:{self.request.id}"
    stored = json.dumps({"provider": provider, "payload": payload}, default=str)
    with dead_letter_on_bug(engine, "webhook", source, stored):
        results = ingest.ingest_webhook(
            engine,
            provider,
            payload,
            source=source,
            policy=s.policy,
            now=utcnow(),
            intake=s.intake,
        )
    return as_json_counts(results)


@app.task(
    base=DatabaseTask,
    name="bounce_worker.ingest_sms",
    bind=True,
)
def ingest_sms(self: Task, gateway: str, payload: Any, received_at: str) -> dict[str, int]:
    """An SMS gateway webhook (twilio, vonage, infobip, smpp), verified by the HTTP edge;
    `received_at` is when the edge got it (gateways' reports often carry no time)."""
    s = settings()
    engine = get_engine(s.database_url)
    source = f"task:{self.request.id}"
    stored = json.dumps({"gateway": gateway, "payload": payload}, default=str)
    with dead_letter_on_bug(engine, "webhook", source, stored):
        results = ingest.ingest_sms(
            engine,
            gateway,
            payload,
            source=source,
            policy=s.policy,
            now=utcnow(),
            received_at=parse_instant(received_at, "received_at"),
            numbers=s.sms_numbers,
        )
    return as_json_counts(results)


# The nightly jobs are idempotent and take their own lock, so a retry (or a second beat by
# mistake) is harmless. Like the unlock they return the rows they wrote (an int: the job
# metrics count it); the details are in their log line.
@app.task(base=DatabaseTask, name="bounce_worker.recalculate")
def recalculate() -> int:
    s = settings()
    engine = get_engine(s.database_url)
    return jobs.recalculate(
        engine, now=utcnow(), batch_size=s.job_batch_size, workers=s.job_workers
    ).rows


@app.task(base=DatabaseTask, name="bounce_worker.housekeeping")
def housekeeping() -> int:
    s = settings()
    return jobs.housekeeping(
        get_engine(s.database_url),
        now=utcnow(),
        quiet_period=s.policy.quiet_period,
        retention=s.retention,
        batch_size=s.job_batch_size,
        workers=s.job_workers,
    ).rows


def as_json_counts(results: Mapping[service.Result, int]) -> dict[str, int]:
    """A task's result counts with plain string keys, as the JSON result serializer needs."""
    return {str(k): v for k, v in results.items()}
