"""The worker's warm shutdown, as seen by work that waits in place (grouping.retrying).

Celery's warm shutdown (SIGTERM) lets running tasks finish, but an event group retrying a
lost database in place (backoff up to 300 s) would not finish until the database is back,
so the worker would outlive any stop grace period. On SIGTERM the worker's main process
raises a flag (celery_app.py, `worker_shutting_down`); a retry loop looks at it between
attempts and while it waits, and gives its messages back to the queue, unacknowledged, for
another worker (`ShuttingDown`).

The flag is one byte of anonymous shared memory made when this module is imported, in the
worker's main process before it forks its pool: prefork children see the parent's write
(SIGTERM goes to the main process only, as `docker stop` sends it), the solo pool sees its
own. It is written from a signal handler, so it is a plain byte: no lock (a
`threading.Event` set from a handler that interrupted its own `wait` could deadlock), and
waiting is a sleep in short slices that look at it.

A prefork child waits for a second value before it gives up its group: DRAINING, raised
by the main process once its event loop has stopped and its pool is closing (celery_app's
`PoolDraining` step). A result sent back while Celery's event loop was stopping could be
caught half-read (seen one run in three): the child then waited billiard's 30 s for the
parent to take it, and the parent read the rest as garbage. Sent once the pool drains, it
is read whole. The solo pool runs the group inside the event loop: it gives up at once.
"""

from __future__ import annotations

import mmap
import os
import time

# How often a waiting retry loop looks at the flag: the delay a shutdown may add.
POLL_SECONDS = 0.2
# How long a prefork child waits for DRAINING before it gives its group back anyway (a pool
# started without the step, e.g. a custom pool class).
DRAIN_WAIT_SECONDS = 10.0

RUNNING, STOPPING, DRAINING = 0, 1, 2
_flag = mmap.mmap(-1, 1)  # MAP_SHARED | MAP_ANONYMOUS: inherited across fork, shared
# The worker's main process (this module is imported before the pool forks); the solo pool
# runs tasks here. (Celery sends worker_process_init to the solo pool too: no use here.)
_MAIN_PID = os.getpid()


class ShuttingDown(Exception):
    """The worker is stopping: give the messages back to the queue, unacknowledged."""


def request() -> None:
    """Raise the flag (the worker's main process, on warm shutdown). Signal-safe."""
    if _flag[0] == RUNNING:
        _flag[0] = STOPPING


def draining() -> None:
    """The main process's event loop has stopped and its pool is closing."""
    _flag[0] = DRAINING


def requested() -> bool:
    return _flag[0] != RUNNING


def reset() -> None:
    """Lower the flag (tests)."""
    _flag[0] = RUNNING


def pause(seconds: float) -> None:
    """Sleep `seconds`, or raise ShuttingDown as soon as the worker is stopping (in a pool
    child: once the parent's pool drains, see the module doc)."""
    deadline = time.monotonic() + seconds
    while True:
        if requested():
            if os.getpid() != _MAIN_PID:  # a prefork child
                _wait_for_draining()
            raise ShuttingDown
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, POLL_SECONDS))


def _wait_for_draining() -> None:
    deadline = time.monotonic() + DRAIN_WAIT_SECONDS
    while _flag[0] != DRAINING and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS / 4)
