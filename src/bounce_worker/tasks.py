"""Celery tasks: decode, call a service function, done.

Retries are declared once, on the base class: database and broker errors retry with
exponential backoff and jitter, forever (an event is never given up on; Flower shows the
retries). Bad input is never retried: the service dead-letters it.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError, OperationalError

from bounce_worker import jobs, service
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
    s = settings()
    result = service.process_payload(
        get_engine(s.database_url),
        event,
        source=f"task:{self.request.id}",
        policy=s.policy,
        now=utcnow(),
    )
    return str(result)


@app.task(base=DatabaseTask, name="bounce_worker.unlock_expired")
def unlock_expired() -> int:
    return jobs.unlock_expired(get_engine(settings().database_url), now=utcnow())
