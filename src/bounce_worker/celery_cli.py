"""`bounce-worker-celery` (or `python -m bounce_worker.celery_cli`): Celery's command line
without its plugins, for the worker and beat.

Celery's command line loads every installed `celery.commands` plugin when it is imported.
Flower is installed beside the worker (compose runs it from the same image), so every
worker and beat process imported Flower's app, tornado and their dependencies only to
offer a `flower` subcommand it never runs: about 4 MB of an idle worker's 103 MB
(docs/hardening.md). This is `celery` with that list empty, everything else Celery's own
(`bounce-worker-celery -A bounce_worker.celery_app worker ...`). Flower itself still runs
as `celery -A bounce_worker.celery_app flower`.
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Any

PLUGINS = "celery.commands"


def main() -> None:
    from celery import maybe_patch_concurrency

    if "multi" not in sys.argv:  # as celery.__main__: eventlet/gevent before anything else
        maybe_patch_concurrency()
    entry_points = metadata.entry_points

    def without_plugins(**params: Any) -> Any:
        if params.get("group") == PLUGINS:
            return metadata.EntryPoints(())
        return entry_points(**params)

    # celery.bin.celery reads the plugin list once, when it is imported.
    metadata.entry_points = without_plugins
    try:
        from celery.bin.celery import main as celery_main
    finally:
        metadata.entry_points = entry_points
    sys.exit(celery_main())


if __name__ == "__main__":
    main()
