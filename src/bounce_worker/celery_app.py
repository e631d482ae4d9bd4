"""The Celery app. Settings come from the top-level `celeryconfig` module."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_prerun,
    task_success,
    worker_process_init,
)

from bounce_worker import org_policy
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.observability import metrics
from bounce_worker.observability.logs import use_json
from bounce_worker.store.db import dispose_all, get_engine

app = Celery("bounce_worker", include=["bounce_worker.tasks"])
app.config_from_object("celeryconfig")


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # Prefork children must not share the parent's database connections.
    dispose_all()


@task_prerun.connect
def _organization_policies(**_: Any) -> None:
    # Outside the task's transaction: the per-organization policy the writer resolves
    # (org_policy.py), re-read at most every 30 s.
    org_policy.refresh(get_engine(settings().database_url))


@after_setup_logger.connect
@after_setup_task_logger.connect
def _structured_logs(logger: Any, **_: Any) -> None:
    # BOUNCE_WORKER_LOG_FORMAT=json: one JSON object per line for the log shipper.
    if settings().log_format == "json":
        use_json(logger)


@task_success.connect
def _job_metrics(sender: Any = None, result: Any = None, **_: Any) -> None:
    # The beat schedule's jobs return how many rows they changed (events are counted by the
    # service); run by beat or by hand, each success is recorded for "did it run tonight?".
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    if sender is not None and sender.name in scheduled and type(result) is int:
        metrics.job_succeeded(sender.name, result, utcnow().timestamp())
