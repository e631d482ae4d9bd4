"""The Celery app. Settings come from the top-level `celeryconfig` module."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from bounce_worker.store.db import dispose_all

app = Celery("bounce_worker", include=["bounce_worker.tasks"])
app.config_from_object("celeryconfig")


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # Prefork children must not share the parent's database connections.
    dispose_all()
