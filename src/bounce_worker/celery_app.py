"""The Celery app. Settings come from the top-level `celeryconfig` module."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, bootsteps
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
    task_success,
    worker_init,
    worker_process_init,
    worker_shutting_down,
)

from bounce_worker import memory, org_policy, shutdown
from bounce_worker.clock import utcnow
from bounce_worker.config import ConfigError, settings
from bounce_worker.limits import visibility_timeout_problem
from bounce_worker.observability import metrics
from bounce_worker.observability.logs import redact_handlers, use_json
from bounce_worker.store.db import dispose_all, get_engine

log = logging.getLogger("bounce_worker.worker")


# Worker, beat and Flower all load this app: none of them starts on a setting it cannot use
# (a placeholder secret, a short HMAC key, a bad ladder...), and each says so in one line,
# not with the traceback of celeryconfig's import.
try:
    settings()
except ConfigError as exc:
    raise SystemExit(f"bounce-worker: {exc}") from None

app = Celery("bounce_worker", include=["bounce_worker.tasks"])
app.config_from_object("celeryconfig")


class PoolDraining(bootsteps.StartStopStep):  # type: ignore[misc]
    """Tells prefork children that the worker's event loop has stopped and its pool is
    closing: a group given back on shutdown sends its result now, read whole (shutdown.py).
    Started after the pool, so closed (in the worker's stop, first pass, in start order)
    right after it."""

    requires = ("celery.worker.components:Pool",)

    def close(self, worker: Any) -> None:
        shutdown.draining()


app.steps["worker"].add(PoolDraining)


@worker_init.connect
def _check_time_limits(**_: Any) -> None:
    # Before any message is taken: a visibility timeout at or under a hard time limit would
    # hand a running task's message to a second worker. One line, no traceback.
    s = settings()
    problem = visibility_timeout_problem(s.visibility_timeout, s.task_time_limit_cap)
    if problem:
        raise SystemExit(f"bounce-worker: {problem}")


@worker_init.connect
def _check_schema(**_: Any) -> None:
    # A worker on a database without the current schema would retry "no such table" for
    # every message. The embedded SQLite database migrates itself here, as every CLI
    # command does; a server database is migrated on purpose, so the worker exits at once.
    # An unreachable database is not judged here: the tasks retry until it is back.
    from bounce_worker.store.migrate import is_current, upgrade

    s = settings()
    try:
        current = is_current(s.database_url)
    except Exception as exc:
        log.warning("database not reachable at start (%s); tasks will retry", type(exc).__name__)
        return
    if current:
        return
    if not s.embedded:
        raise SystemExit(
            "bounce-worker: database schema is not current: run `bounce-worker db upgrade`"
        )
    upgrade(s.database_url)


@worker_shutting_down.connect
def _stop_retrying(**_: Any) -> None:
    # SIGTERM, in the main process's signal handler: an event group retrying a lost database
    # in place (here with the solo pool, in a pool child with prefork) stops waiting and
    # gives its messages back to the queue, so the warm shutdown ends (shutdown.py).
    shutdown.request()


@worker_init.connect
def _unmap_big_buffers(**_: Any) -> None:
    # Before the pool forks: its children inherit the setting (memory.py).
    memory.big_buffers_unmapped()


_in_pool_child = False  # set in prefork children (worker_process_init)


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # Prefork children must not share the parent's database connections.
    global _in_pool_child
    _in_pool_child = True
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
    # Never an address in a log line: a keyed hash instead (observability/logs.py).
    redact_handlers(logger, settings().secret_key)


@task_success.connect
def _job_metrics(sender: Any = None, result: Any = None, **_: Any) -> None:
    # The beat schedule's jobs return how many rows they changed (events are counted by the
    # service); run by beat or by hand, each success is recorded for "did it run tonight?".
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    if sender is not None and sender.name in scheduled and type(result) is int:
        metrics.job_succeeded(sender.name, result, utcnow().timestamp())


@task_postrun.connect
def _give_back_memory(sender: Any = None, args: Any = None, **_: Any) -> None:
    # In a prefork child, the end of a big raw mail's task is the last moment this process
    # sees it (memory.py). The solo pool runs tasks in the main process: the consumer trims
    # there, once the message is acknowledged and gone.
    if (
        _in_pool_child
        and sender is not None
        and sender.name == "bounce_worker.ingest_raw"
        and args
        and memory.is_big(args[0])
    ):
        memory.trim()
