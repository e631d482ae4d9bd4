"""Celery settings, all derived from bounce_worker.config (the environment).

Delivery guarantee: at least once, with idempotent effects. A message is acknowledged only
after its transaction committed (acks_late); a worker killed mid-task leaves it on the queue
(reject_on_worker_lost); redelivered copies are recognised by their event id.
"""

from celery.schedules import crontab

from bounce_worker.config import settings
from bounce_worker.limits import DEFAULT_TIME_LIMIT, TASK_TIME_LIMITS, capped

_s = settings()

broker_url = _s.broker_url
broker_connection_retry_on_startup = True
task_default_queue = _s.queue  # workers consume it too; tests give each run its own

# --- Delivery: at least once, effects exactly once (docs/operating.md "Delivery guarantee")
# A message is acknowledged only after the task returned, i.e. after its transaction
# committed; a worker killed mid-task (or by the hard time limit) leaves it unacknowledged.
task_acks_late = True
task_reject_on_worker_lost = True
# A task that fails with an unexpected error has already stored its payload as a dead
# letter (tasks.py), so acknowledging it loses nothing and avoids a poison-message loop.
# A task killed by its hard time limit stored nothing: its message goes back to the queue.
task_acks_on_failure = True
task_acks_on_timeout = False
# Tasks cut off by a lost broker connection are redelivered (late ack), so cancel them.
worker_cancel_long_running_tasks_on_connection_loss = True

# Time limits of every task, declared in one table (bounce_worker/limits.py): the soft limit
# raises inside the task, the hard one kills its pool process. The worker refuses to start
# when BOUNCE_WORKER_VISIBILITY_TIMEOUT does not exceed the longest hard limit (celery_app.py).
# BOUNCE_WORKER_TASK_TIME_LIMIT_CAP lowers them all for a short visibility timeout.
_default_limit = capped(DEFAULT_TIME_LIMIT, _s.task_time_limit_cap)
task_soft_time_limit = _default_limit.soft
task_time_limit = _default_limit.hard
task_annotations = {
    name: {"soft_time_limit": limit.soft, "time_limit": limit.hard}
    for name, limit in (
        (name, capped(limit, _s.task_time_limit_cap)) for name, limit in TASK_TIME_LIMITS.items()
    )
}

# Redis has no real acknowledgements: kombu parks a delivered message in an "unacked" hash
# and gives it back to the queue once it is older than the visibility timeout. That timeout
# must exceed the longest hard time limit (1800 s, checked at worker start-up) plus the time
# a prefetched message waits, or a live task would run twice; default 3600 s. A worker
# stopped with SIGTERM returns its messages at once; after a kill -9 they come back when the
# timeout expires.
# The unacked keys are named after the queue, so deployments (and test runs) sharing one
# Redis never restore each other's messages. (kombu's SQLAlchemy transport passes its
# options to create_engine, so Redis only.)
if broker_url.startswith(("redis", "rediss")):
    # kombu's BRPOP loses a message taken by a worker killed before it recorded it as
    # unacked; this transport takes it with an atomic BLMOVE instead (bounce_worker/broker.py).
    if broker_url.startswith("redis://"):
        broker_transport = "bounce_worker.broker:ReliableRedisTransport"
    broker_transport_options = {
        "priority_steps": [0],  # one Redis list per queue: what BLMOVE can take from
        "visibility_timeout": _s.visibility_timeout,
        "unacked_key": f"{_s.queue}.unacked",
        "unacked_index_key": f"{_s.queue}.unacked_index",
        "unacked_mutex_key": f"{_s.queue}.unacked_mutex",
        # Sweep for expired messages about five times per timeout (at most every minute).
        "unacked_restore_interval": max(1, min(60, _s.visibility_timeout // 5)),
        "unacked_restore_throttle": 1,
        # The JSON body as text in the envelope, not base64 of it (kombu's default): a raw
        # mail is already base64 in the body, and each layer was one more copy to read and
        # decode. Nested 8.8 MB mail through the worker: peak RSS growth +73-80 -> +61 MB,
        # CPU 0.42 -> 0.34 s (bench/hostile.py). Each envelope names its body's encoding,
        # so messages published either way are read by workers of either kind.
        "body_encoding": "utf-8",
    }

# RabbitMQ (amqp://) is the production broker that needs no patched transport: its
# acknowledgements are real (a message unacknowledged by a dead connection is redelivered
# at once, no visibility timeout). Quorum queues replicate each message to a majority of
# the cluster and keep it on disk before the publisher's confirm; publisher confirms make
# `bounce-worker publish` wait until the broker has taken each message (docs/hardening.md).
# Celery turns global QoS off by itself for quorum queues (worker_detect_quorum_queues).
if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
    task_default_queue_type = "quorum"
    worker_detect_quorum_queues = True
    broker_transport_options = {"confirm_publish": True}

# Every task message is checked before Celery builds a request from it: a malformed one is
# dead-lettered with its raw body and acknowledged, never fatal to the worker (poison.py).
worker_consumer = "bounce_worker.poison:GuardedConsumer"

# Prefetch: a worker holds up to this many unacknowledged messages per pool process. The
# worker groups one-event messages (bounce_worker/grouping.py), and a group waits for its
# messages until it is full or BOUNCE_WORKER_EVENT_GROUP_WAIT_MS passes: one full group per
# process keeps every process busy while the next group fills. Held messages are safe (they
# stay in Redis' unacked hash until their group commits); a kill -9 sends them back after
# the visibility timeout.
worker_prefetch_multiplier = _s.event_group_size

# JSON only: a pickled message could run code on the worker.
task_serializer = "json"
result_serializer = "json"
event_serializer = "json"
accept_content = ["json"]
task_ignore_result = True  # effects live in the database; nobody waits on results

# Flower shows every task only when workers and producers emit events.
worker_send_task_events = True
task_send_sent_event = True

timezone = _s.timezone
enable_utc = True
beat_schedule_filename = str(_s.home / "celerybeat-schedule")
beat_schedule = {
    "nightly-unlock": {
        "task": "bounce_worker.unlock_expired",
        "schedule": crontab(hour=_s.unlock_hour, minute=_s.unlock_minute),
    },
    # After the unlock, so the figures count tonight's unlocked entries as active.
    "nightly-recalculate": {
        "task": "bounce_worker.recalculate",
        "schedule": crontab(hour=_s.recalculate_at[0], minute=_s.recalculate_at[1]),
    },
    "nightly-housekeeping": {
        "task": "bounce_worker.housekeeping",
        "schedule": crontab(hour=_s.housekeeping_at[0], minute=_s.housekeeping_at[1]),
    },
}
