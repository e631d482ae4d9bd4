"""Celery settings, all derived from bounce_worker.config (the environment).

Delivery guarantee: at least once, with idempotent effects. A message is acknowledged only
after its transaction committed (acks_late); a worker killed mid-task leaves it on the queue
(reject_on_worker_lost); redelivered copies are recognised by their event id.
"""

from celery.schedules import crontab

from bounce_worker.config import settings

_s = settings()

broker_url = _s.broker_url
broker_connection_retry_on_startup = True
task_default_queue = _s.queue  # workers consume it too; tests give each run its own
# Redis redelivers an unacknowledged message after the visibility timeout: well above the
# longest task (the nightly jobs' time limit), or a slow job would run twice.
# (kombu's SQLAlchemy transport passes its options to create_engine, so Redis only.)
if broker_url.startswith(("redis", "rediss")):
    broker_transport_options = {"visibility_timeout": 7200}

# JSON only: a pickled message could run code on the worker.
task_serializer = "json"
result_serializer = "json"
event_serializer = "json"
accept_content = ["json"]

task_acks_late = True
task_reject_on_worker_lost = True
task_ignore_result = True  # effects live in the database; nobody waits on results
worker_prefetch_multiplier = 4  # several small messages in flight; late acks keep them safe
task_soft_time_limit = 3000
task_time_limit = 3600

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
