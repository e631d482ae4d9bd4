"""`bounce-worker metrics`: serve the domain figures on /metrics for Prometheus."""

from __future__ import annotations

import argparse
from typing import Any

from bounce_worker.cli.common import port_free, tcp_port
from bounce_worker.config import settings
from bounce_worker.observability.exporter import serve


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "metrics",
        help="serve Prometheus metrics: transitions, dead letters, queue depth, entries",
        description="Serve /metrics until stopped. Counters from the workers are read from "
        "PROMETHEUS_MULTIPROC_DIR (set the same directory for the workers); entry counts, "
        "waiting dead letters and queue depth are read from the database and broker on "
        "each scrape.",
    )
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; 0.0.0.0 inside a container)",
    )
    parser.add_argument("--port", type=tcp_port, default=9808, help="TCP port (default: 9808)")
    parser.set_defaults(func=run_metrics)


def run_metrics(args: argparse.Namespace) -> int:
    s = settings()
    port_free(args.address, args.port)
    print(f"serving metrics on http://{args.address}:{args.port}/metrics", flush=True)
    serve(s, args.address, args.port)
    return 0
