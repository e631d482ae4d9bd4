"""The Celery app. Settings come from the top-level `celeryconfig` module."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
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

from bounce_worker import org_policy, shutdown
from bounce_worker.clock import utcnow
from bounce_worker.config import placeholder_problem, settings
from bounce_worker.limits import visibility_timeout_problem
from bounce_worker.observability import metrics
from bounce_worker.observability.logs import redact_handlers, use_json
from bounce_worker.store.db import dispose_all, get_engine

log = logging.getLogger("bounce_worker.worker")


TRIM_AFTER_BYTES = 1024 * 1024  # base64 of a raw mail


def _trim() -> None:
    """glibc's malloc_trim(0): give freed heap pages back to the system (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


# Worker, beat and Flower all load this app: none of them starts on a placeholder secret.
_placeholder = placeholder_problem()
if _placeholder:
    raise SystemExit(f"bounce-worker: {_placeholder}")

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
    # A raw mail's copies (broker envelope, body, decoded mail, parse) are freed when its
    # task ends, but glibc keeps freed heap memory in the process: give it back after a big
    # mail, or an idle worker stays the size of the largest mail it has seen
    # (bench/hostile.py). Small mails skip it: the two cost tens of milliseconds.
    if (
        sender is not None
        and sender.name == "bounce_worker.ingest_raw"
        and args
        and isinstance(args[0], str)
        and len(args[0]) > TRIM_AFTER_BYTES
    ):
        gc.collect()  # the request, message and parse objects sit in reference cycles
        _trim()
