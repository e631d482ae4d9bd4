"""Celery tasks: decode, call a service function, done.

Retries are declared once, on the base class: database and broker errors retry with
exponential backoff and jitter, forever (an event is never given up on; Flower shows the
retries). Bad input is never retried: the service dead-letters it.
"""

from __future__ import annotations

import base64
from typing import Any

from celery import Task
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError, OperationalError

from bounce_worker import batch, ingest, jobs, service
from bounce_worker.celery_app import app
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.store.db import get_engine


class DatabaseTask(Task):  # type: ignore[misc]
    autoretry_for = (OperationalError, DBAPIError, BrokerError, ConnectionError)
    retry_backoff = 1
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = None
    acks_late = True


@app.task(base=DatabaseTask, name="bounce_worker.process_event", bind=True)
def process_event(self: Task, event: Any) -> str:
    # The batched path with one event: the same statements, and the fewest round trips
    # per event (claim, create-or-lock, one write, commit); see README "Throughput".
    s = settings()
    results = batch.process_batch(
        get_engine(s.database_url),
        [event],
        source=f"task:{self.request.id}",
        policy=s.policy,
        now=utcnow(),
    )
    return str(next(iter(results)))


@app.task(base=DatabaseTask, name="bounce_worker.process_batch", bind=True)
def process_batch(self: Task, events: Any) -> dict[str, int]:
    """Many events in one message and one transaction (`bounce-worker publish` packs them)."""
    s = settings()
    source = f"task:{self.request.id}"
    engine = get_engine(s.database_url)
    if not isinstance(events, list):
        # The whole message is malformed: keep it, as the single path keeps a bad event.
        service.dead_letter(engine, "event", source, events, "batch is not a JSON array", utcnow())
        return {str(service.Result.DEAD_LETTERED): 1}
    results = batch.process_batch(engine, events, source=source, policy=s.policy, now=utcnow())
    return {str(k): v for k, v in results.items()}


@app.task(base=DatabaseTask, name="bounce_worker.unlock_expired")
def unlock_expired() -> int:
    s = settings()
    result = jobs.unlock_expired(
        get_engine(s.database_url), now=utcnow(), batch_size=s.job_batch_size, workers=s.job_workers
    )
    return result.rows


@app.task(base=DatabaseTask, name="bounce_worker.ingest_raw", bind=True)
def ingest_raw(self: Task, message_b64: Any, source: str | None = None) -> dict[str, int]:
    """A raw mail (DSN, MTA bounce, ARF, unsubscribe), base64 in the JSON body."""
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
    results = ingest.ingest_raw(
        engine,
        raw,
        source=source,
        policy=s.policy,
        now=utcnow(),
        organization_header=s.organization_header,
        max_bytes=s.max_message_bytes,
    )
    return {str(k): v for k, v in results.items()}


@app.task(base=DatabaseTask, name="bounce_worker.ingest_webhook", bind=True)
def ingest_webhook(self: Task, provider: str, payload: Any) -> dict[str, int]:
    """An ESP webhook delivery, with its provider name (ses, sendgrid, mailgun, postmark)."""
    s = settings()
    results = ingest.ingest_webhook(
        get_engine(s.database_url),
        provider,
        payload,
        source=f"task:{self.request.id}",
        policy=s.policy,
        now=utcnow(),
    )
    return {str(k): v for k, v in results.items()}


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
