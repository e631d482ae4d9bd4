"""The nightly jobs, as set-based SQL in bounded batches: unlock, recalculation,
housekeeping. Each takes `now` (only tasks and the CLI read the clock), is safe to re-run,
and holds a per-job lock so two overlapping runs cannot both apply (see common.py)."""

from bounce_worker.jobs.common import JobResult, Progress
from bounce_worker.jobs.housekeeping import housekeeping
from bounce_worker.jobs.recalculation import latest_stats, recalculate
from bounce_worker.jobs.unlock import unlock_expired

__all__ = [
    "JobResult",
    "Progress",
    "housekeeping",
    "latest_stats",
    "recalculate",
    "unlock_expired",
]
