"""`bounce-worker metrics`: the domain figures for Prometheus, read at scrape time.

Counters (transitions, dead letters) come from the worker processes through
PROMETHEUS_MULTIPROC_DIR; gauges (entries by state, dead letters waiting, queue depth) are
asked of the database and the broker on each scrape, so they are exact whatever number of
workers runs, and the exporter keeps no state. A source that is down is reported through
`bounce_worker_scrape_ok`, never as an HTTP error: Prometheus then still gets the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bounce_worker.config import Settings
from bounce_worker.observability import metrics
from bounce_worker.observability.health import probe_engine, queue_depth
from bounce_worker.store.models import DeadLetterRow, EntryRow
from bounce_worker.store.uow import UnitOfWork

TIMEOUT = 5.0  # seconds per source; Prometheus' default scrape timeout is 10s


class DomainCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            "bounce_worker_scrape_ok", "1 when the source answered this scrape.", labels=["source"]
        )
        try:
            yield from self._database()
            ok.add_metric(["database"], 1)
        except SQLAlchemyError:
            ok.add_metric(["database"], 0)
        try:
            depth = queue_depth(self.settings.queue, TIMEOUT)
        except Exception:  # any transport error: the broker did not answer
            ok.add_metric(["broker"], 0)
        else:
            ok.add_metric(["broker"], 1)
            gauge = GaugeMetricFamily(
                "bounce_worker_queue_depth",
                "Messages waiting on the queue (not yet taken by a worker).",
                labels=["queue"],
            )
            gauge.add_metric([self.settings.queue], depth)
            yield gauge
        yield ok

    def _database(self) -> Iterator[Metric]:
        entries = GaugeMetricFamily(
            "bounce_worker_entries",
            "Suppression entries by channel, scope and state.",
            labels=["channel", "scope", "state"],
        )
        by_state = (
            select(EntryRow.channel, EntryRow.scope, EntryRow.state, func.count())
            .where(EntryRow.deleted_at.is_(None))
            .group_by(EntryRow.channel, EntryRow.scope, EntryRow.state)
        )
        waiting = select(func.count()).where(DeadLetterRow.replayed_at.is_(None))
        with UnitOfWork(probe_engine(self.settings.database_url, TIMEOUT)) as uow:
            for channel, scope, state, count in uow.session.execute(by_state):
                entries.add_metric([channel, scope, state], count)
            pending = uow.session.scalar(waiting.select_from(DeadLetterRow)) or 0
        yield entries
        yield GaugeMetricFamily(
            "bounce_worker_dead_letters_waiting",
            "Dead letters not replayed yet (operators should look at them).",
            value=pending,
        )


def build_registry(settings: Settings) -> CollectorRegistry:
    """The worker counters (summed over processes when multiprocess) plus the gauges."""
    if metrics.multiproc_dir() is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY  # this process's own counters, and Python's process figures
    registry.register(DomainCollector(settings))
    return registry


def serve(settings: Settings, address: str, port: int) -> None:
    """Serve /metrics until the process is stopped."""
    start_http_server(port, addr=address, registry=build_registry(settings))
    threading.Event().wait()
