"""The framework's ceiling: a Celery task that does nothing, on the project's own Celery app
(same broker, serializer, acks_late, prefetch and task events as the real tasks).

Loaded into the benchmark's worker with `celery ... worker -I celery_noop`; not part of the
product, so production workers never register it.
"""

from __future__ import annotations

from typing import Any

from bounce_worker.celery_app import app


@app.task(name="bench.noop")
def noop(event: Any) -> None:
    """Receives the same event payload as bounce_worker.process_event, and ignores it."""
