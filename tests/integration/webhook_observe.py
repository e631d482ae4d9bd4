"""What a webhook test observes after its posts: the messages on this run's queue and the
refusals the server counted (its Prometheus multiprocess directory). Shared by the ESP and
SMS-gateway webhook tests."""

from __future__ import annotations

import os
from pathlib import Path

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector


def queued() -> int:
    return int(
        redis.Redis.from_url(os.environ["BOUNCE_WORKER_BROKER_URL"]).llen(
            os.environ["BOUNCE_WORKER_QUEUE"]
        )
    )


def refusals(prom: Path) -> dict[tuple[str, str], float]:
    """(provider, reason) -> count of bounce_worker_webhook_refusals_total."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(prom))
    out = {}
    for family in registry.collect():
        if family.name == "bounce_worker_webhook_refusals":
            for s in family.samples:
                if s.name.endswith("_total"):
                    out[(s.labels["provider"], s.labels["reason"])] = s.value
    return out
